export { approvalWorkflow } from './approval';
