/**
 * The transparency log, under /v1/log (issue 27), read only: the latest signed checkpoint and the
 * proofs (agents and auditors: hashes only), the leaves and a stored bundle by workflow and run
 * (auditors: they name every agent's requests). What `countersign log audit` reads (server/log.ts).
 */
import { Hono, type Context } from 'hono';
import type { InclusionProof, ConsistencyProof, LogBundles, LogLeaves } from '../../common/responses';
import { signedIn } from '../auth';
import type { Deps } from '../deps';
import type { Env } from '../http';
import { LogRangeError, type LogService } from '../log';
import { forbidden, invalid, logDamaged, notFound } from '../problems';
import { MAX_EVIDENCE_PAGE, MAX_LEAVES_PAGE } from '../../store/bounds';
import { LogDamagedError, StoreInputError } from '../../store/types';

/** A whole-number query parameter from `min` up to 2^53-1. */
function wholeParam(c: Context, name: string, options: { min?: number; fallback?: number } = {}): number {
  const text = c.req.query(name);
  const min = options.min ?? 0;
  if ((text === undefined || text === '') && options.fallback !== undefined) return options.fallback;
  if (text === undefined || text === '') throw invalid(`Query parameter "${name}" is required: a whole number from ${min}.`);
  if (!/^(0|[1-9][0-9]{0,15})$/.test(text) || !Number.isSafeInteger(Number(text)) || Number(text) < min) {
    throw invalid(`Query parameter "${name}" must be a whole number from ${min}, got "${text.slice(0, 50)}".`);
  }
  return Number(text);
}

/** A text query parameter naming an id the store keys by. */
function idParam(c: Context, name: string, max: number): string {
  const text = c.req.query(name);
  if (!text || text.length > max || text.includes('\0')) throw invalid(`Query parameter "${name}" is required: 1 to ${max} characters.`);
  return text;
}

export function logRoutes(deps: Deps): Hono<Env> {
  const routes = new Hono<Env>();
  const log = (): LogService => {
    if (!deps.log) throw notFound('This server keeps no store, so it serves no log.');
    return deps.log;
  };
  /** Agents and auditors: what only names hashes. Auditors alone: what names requests. */
  const mayRead = (c: Context<Env>, who: 'agents' | 'auditors') => {
    const p = c.get('principal');
    const allowed = p.role === 'auditor' || (who === 'agents' && p.role === 'agent');
    if (!allowed) throw forbidden(`This endpoint is for ${who === 'agents' ? 'agents and auditors' : 'auditors'}; you are signed in as ${p.role} ${p.name}.`);
  };
  const ranged = async <T>(answer: () => Promise<T>): Promise<T> => {
    try {
      return await answer();
    } catch (err) {
      if (err instanceof LogRangeError) throw invalid(err.message);
      if (err instanceof LogDamagedError) throw logDamaged('The log cannot give this proof: leaves it should hold are missing from the store, so it has been tampered with (countersign log audit names what is gone).');
      throw err;
    }
  };

  routes.get('/checkpoint', signedIn(deps), async (c) => {
    mayRead(c, 'agents');
    const checkpoint = await log().latestCheckpoint();
    if (!checkpoint) throw notFound('The log has no checkpoint yet: no bundle has been sealed.');
    return c.text(checkpoint.note, 200, { 'content-type': 'text/plain; charset=utf-8' });
  });

  routes.get('/leaves', signedIn(deps), async (c) => {
    mayRead(c, 'auditors');
    const start = wholeParam(c, 'start', { fallback: 0 });
    const count = wholeParam(c, 'count', { min: 1, fallback: MAX_LEAVES_PAGE });
    if (count > MAX_LEAVES_PAGE) throw invalid(`Query parameter "count" must be at most ${MAX_LEAVES_PAGE}, got ${count}.`);
    return c.json((await log().leaves(start, count)) satisfies LogLeaves);
  });

  routes.get('/proof/inclusion', signedIn(deps), async (c) => {
    mayRead(c, 'agents');
    const index = wholeParam(c, 'index');
    const treeSize = wholeParam(c, 'size', { min: 1 });
    const inclusion = await ranged(() => log().inclusion(index, treeSize));
    return c.json({ index, treeSize, inclusion } satisfies InclusionProof);
  });

  routes.get('/proof/consistency', signedIn(deps), async (c) => {
    mayRead(c, 'agents');
    const from = wholeParam(c, 'from');
    const to = wholeParam(c, 'to');
    const consistency = await ranged(() => log().consistency(from, to));
    return c.json({ from, to, consistency } satisfies ConsistencyProof);
  });

  // The bundle exactly as sealed, found by what its leaf names: how an auditor checks each leaf.
  routes.get('/bundle', signedIn(deps), async (c) => {
    mayRead(c, 'auditors');
    const workflowId = idParam(c, 'workflowId', 1000);
    const runId = idParam(c, 'runId', 128);
    if (!deps.store) throw notFound('This server keeps no store, so it serves no bundle.');
    const stored = await deps.store.getEvidence(workflowId, runId);
    if (!stored) throw notFound(`The store holds no bundle of run ${runId.slice(0, 128)} of ${workflowId.slice(0, 200)}.`);
    return c.body(stored.text, 200, { 'content-type': 'application/json; charset=utf-8' });
  });

  // Every stored bundle, by what its leaf names: log audit finds a bundle the log has no leaf for.
  routes.get('/bundles', signedIn(deps), async (c) => {
    mayRead(c, 'auditors');
    const after = c.req.query('after') || undefined;
    const count = wholeParam(c, 'count', { min: 1, fallback: MAX_EVIDENCE_PAGE });
    if (count > MAX_EVIDENCE_PAGE) throw invalid(`Query parameter "count" must be at most ${MAX_EVIDENCE_PAGE}, got ${count}.`);
    if (!deps.store) throw notFound('This server keeps no store, so it lists no bundle.');
    let page;
    try {
      page = await deps.store.listBundles(after, count);
    } catch (err) {
      if (err instanceof StoreInputError) throw invalid(`Query parameter "after" must be the "next" of an earlier page (1 to 2000 base64url characters), got "${(after ?? '').slice(0, 50)}".`);
      throw err;
    }
    return c.json({ bundles: page.entries, ...(page.next ? { next: page.next } : {}) } satisfies LogBundles);
  });

  return routes;
}
