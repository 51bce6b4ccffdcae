import { bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';

/** The workflows' entry point: approvals and reviewer enrolment. */
export function workflowsPath(): string {
  return require.resolve('../workflows');
}

/** Loaded once per workflow thread and shared by its workflows (see workflows/shared-modules.ts). */
export function preloadedModules(): string[] {
  return [require.resolve('../workflows/shared-modules')];
}

type BundleLogger = NonNullable<Parameters<typeof bundleWorkflowCode>[0]['logger']>;

/** The approval and enrolment workflows as one bundle, with the shared libraries preloaded: what every worker runs. */
export function bundleApprovalWorkflows(logger?: BundleLogger): Promise<WorkflowBundleWithSourceMap> {
  return bundleWorkflowCode({ workflowsPath: workflowsPath(), preloadModules: preloadedModules(), ...(logger ? { logger } : {}) });
}
