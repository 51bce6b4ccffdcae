import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import { canonicalJson } from './canonical';
import type { ActionRequest } from './schema';

export function sha256Hex(text: string): string {
  return bytesToHex(sha256(utf8ToBytes(text)));
}

/** actionDigest = SHA-256 of the canonical JSON of {action, resource, payload} (DESIGN §2). */
export function actionDigest(request: Pick<ActionRequest, 'action' | 'resource' | 'payload'>): string {
  return sha256Hex(canonicalJson({ action: request.action, resource: request.resource, payload: request.payload }));
}

/** The 16-hex request id: stable for the same agent, task and action digest. */
export function requestIdFor(agentId: string, taskId: string, digest: string): string {
  return sha256Hex(canonicalJson([agentId, taskId, digest])).slice(0, 16);
}

/** Workflow id = cs-<agentId>-<request id>: the same action submitted twice joins one workflow. */
export function approvalWorkflowId(request: Pick<ActionRequest, 'agentId' | 'taskId' | 'action' | 'resource' | 'payload'>): {
  workflowId: string;
  requestId: string;
  actionDigest: string;
} {
  const digest = actionDigest(request);
  const requestId = requestIdFor(request.agentId, request.taskId, digest);
  return { workflowId: `cs-${request.agentId}-${requestId}`, requestId, actionDigest: digest };
}
