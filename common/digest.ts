import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import { canonicalJson } from './canonical';
import type { ActionRequest } from './inputs';

/** SHA-256 of UTF-8 text, hex. Pure JS, so workflows can use it; Node code may pass its native hash instead. */
export function sha256Hex(text: string): string {
  return bytesToHex(sha256(utf8ToBytes(text)));
}

export type Sha256Hex = (text: string) => string;

/** actionDigest = SHA-256 of the canonical JSON of {action, resource, payload} (DESIGN §2). */
export function actionDigest(request: Pick<ActionRequest, 'action' | 'resource' | 'payload'>, hash: Sha256Hex = sha256Hex): string {
  return hash(canonicalJson({ action: request.action, resource: request.resource, payload: request.payload }));
}

/** The 16-hex request id: stable for the same agent, task and action digest. */
export function requestIdFor(agentId: string, taskId: string, digest: string, hash: Sha256Hex = sha256Hex): string {
  return hash(canonicalJson([agentId, taskId, digest])).slice(0, 16);
}

/** Workflow id = cs-<agentId>-<request id>: the same action submitted twice joins one workflow. Node code may pass its native hash. */
export function approvalWorkflowId(
  request: Pick<ActionRequest, 'agentId' | 'taskId' | 'action' | 'resource' | 'payload'>,
  hash: Sha256Hex = sha256Hex,
): {
  workflowId: string;
  requestId: string;
  actionDigest: string;
} {
  const digest = actionDigest(request, hash);
  const requestId = requestIdFor(request.agentId, request.taskId, digest, hash);
  return { workflowId: `cs-${request.agentId}-${requestId}`, requestId, actionDigest: digest };
}
