/**
 * The front door's voucher for a workflow start (issue 22, M3): the server signs, with a start key of
 * its own, the ids it derived and the digest of the whole request — its delivery key included — so a
 * party with raw Temporal access cannot start an agent's request with a delivery key of its choosing.
 * Pure: the server signs it, the worker checks it before policy runs and anything is minted.
 */
import { canonicalJson } from './canonical';
import { sha256Hex } from './digest';
import { verifyEd25519 } from './ed25519';
import { signingMessage } from './signing';
import type { ActionRequest } from './inputs';

export const START_VOUCHER_DOMAIN = 'countersign/start-voucher/v1';

export interface StartVoucherBody {
  workflowId: string;
  requestId: string;
  actionDigest: string;
  /** SHA-256 of the canonical JSON of the whole request, agentKey included. */
  fullRequestDigest: string;
  /**
   * Epoch ms on the server's clock, for the record only: a voucher is not refused for its age, since it
   * vouches for one request with one delivery key (replayed, it starts the same request for the same
   * agent, whose single spend the ledger keeps), and a worker backlog must not refuse honest starts.
   */
  issuedAt: number;
}

export interface StartVoucher {
  body: StartVoucherBody;
  keyId: string;
  signature: string;
}

/** What signs a voucher: the server's start key, held by the server alone (crypto/keys' Signer is one). */
export interface StartKey {
  sign(domain: typeof START_VOUCHER_DOMAIN, body: StartVoucherBody): StartVoucher;
}

/** Once the directory names who may come through the front door (or a start key), every start needs a voucher: one rule for the server and the worker. */
export const startsNeedVoucher = (directory: { agents: { size: number }; startKey?: string }): boolean => directory.agents.size > 0 || Boolean(directory.startKey);

export const fullRequestDigest = (request: ActionRequest) => sha256Hex(canonicalJson(request));

export function startVoucherBody(request: ActionRequest, ids: { workflowId: string; requestId: string; actionDigest: string }, issuedAt: number): StartVoucherBody {
  return { workflowId: ids.workflowId, requestId: ids.requestId, actionDigest: ids.actionDigest, fullRequestDigest: fullRequestDigest(request), issuedAt };
}

/** Why a voucher does not vouch for this start, or undefined when it does. */
export function startVoucherRefusal(
  voucher: unknown,
  expected: { request: ActionRequest; workflowId: string; requestId: string; actionDigest: string },
  startKey: string | undefined,
): string | undefined {
  if (!startKey) return 'the policy\'s directory names no server start key (directory.server.startKey), so no start can be vouched for';
  if (voucher === null || voucher === undefined) return 'it carries no voucher from the countersign server: requests start only through the front door';
  const v = voucher as Partial<StartVoucher>;
  const body = v.body as Partial<StartVoucherBody> | undefined;
  if (typeof v !== 'object' || typeof body !== 'object' || body === null || typeof v.signature !== 'string' || v.signature.length > 200) return 'its voucher is malformed';
  if (typeof body.issuedAt !== 'number' || !Number.isFinite(body.issuedAt)) return 'its voucher has no time';
  const claimed = { workflowId: body.workflowId, requestId: body.requestId, actionDigest: body.actionDigest, fullRequestDigest: body.fullRequestDigest, issuedAt: body.issuedAt };
  if (!verifyEd25519(startKey, signingMessage(START_VOUCHER_DOMAIN, claimed), v.signature)) return 'its voucher is not signed by the server start key the directory registers';
  if (claimed.workflowId !== expected.workflowId || claimed.requestId !== expected.requestId || claimed.actionDigest !== expected.actionDigest) return 'its voucher was issued for another request';
  if (claimed.fullRequestDigest !== fullRequestDigest(expected.request)) return 'its voucher was issued for another request body (another delivery key, context or summary)';
  return undefined;
}
