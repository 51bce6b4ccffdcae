/**
 * Insights over sealed evidence (issue 28): the store's bundles in a window, newest first, read into
 * facts (common/insights/facts.ts) and figures (common/insights/figures.ts). Nothing is kept between
 * calls: every answer is computed from the evidence itself, never from a second copy of it.
 */
import { readRecordedBundle, recordedVerdict, requestFacts, type RequestFacts } from '../common/insights/facts';
import { figures } from '../common/insights/figures';
import type { InsightsReport, RecordedRequest, RecordedRequests } from '../common/insights/report';
import { MAX_LIST_PAGE } from '../store/bounds';
import type { EvidenceReader } from '../store/types';

/** The longest window asked for. */
export const MAX_WINDOW_MS = 366 * 86_400_000;
/** Bundles one insights answer reads at most: beyond it the figures are of the newest, and say so. */
export const MAX_BUNDLES_READ = 100_000;
/** Recorded requests one page of /v1/insights/requests holds. */
export const RECORDED_PAGE = 200;

/** The facts of every request sealed since `since`, one per workflow id (the run sealed last). */
export async function factsSince(store: EvidenceReader, since: Date): Promise<{ facts: RequestFacts[]; bundles: number; unreadable: number; complete: boolean }> {
  const facts: RequestFacts[] = [];
  const seen = new Set<string>();
  let bundles = 0;
  let unreadable = 0;
  let cursor: string | undefined;
  do {
    const page = await store.listEvidence({ since: since.toISOString(), limit: MAX_LIST_PAGE, ...(cursor ? { cursor } : {}) });
    for (const stored of page.items) {
      if (seen.has(stored.workflowId)) continue;
      seen.add(stored.workflowId);
      bundles += 1;
      const bundle = readRecordedBundle(stored.text);
      const f = bundle && requestFacts(bundle);
      if (f) facts.push(f);
      else unreadable += 1;
    }
    cursor = page.next;
  } while (cursor && bundles < MAX_BUNDLES_READ);
  return { facts, bundles, unreadable, complete: !cursor };
}

export async function insightsReport(store: EvidenceReader, since: Date, until: Date): Promise<InsightsReport> {
  const { facts, bundles, unreadable, complete } = await factsSince(store, since);
  return { window: { since: since.toISOString(), until: until.toISOString(), bundles, unreadable, complete }, ...figures(facts) };
}

/** One page of recorded requests, for policy simulation: each bundle's request and policy's verdict then. */
export async function recordedRequests(store: EvidenceReader, since: Date, cursor: string | undefined): Promise<RecordedRequests> {
  const page = await store.listEvidence({ since: since.toISOString(), limit: RECORDED_PAGE, ...(cursor ? { cursor } : {}) });
  const items: RecordedRequest[] = [];
  for (const stored of page.items) {
    const bundle = readRecordedBundle(stored.text);
    if (!bundle) continue;
    const verdict = recordedVerdict(bundle);
    items.push({ workflowId: bundle.workflowId, requestId: bundle.requestId, sealedAt: stored.sealedAt, request: bundle.request, ...(verdict ? { verdict } : {}) });
  }
  return page.next ? { items, next: page.next } : { items };
}
