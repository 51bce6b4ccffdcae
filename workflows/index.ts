export { approvalWorkflow } from './approval';
export { reviewerEnrollment } from './enrollment';
