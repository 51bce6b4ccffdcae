import assert from 'node:assert/strict';
import type { TestClient as Countersign } from './stack';
import type { EvidenceBundle } from '../../common/bundle';

/** Waits for a request to end and reads the signed evidence bundle its worker wrote to the store. */
export async function sealedBundle(cs: Countersign, id: string): Promise<EvidenceBundle> {
  const outcome = await cs.outcome(id);
  assert.ok(outcome.evidence, 'evidence written');
  return JSON.parse(await cs.sealedText(id)) as EvidenceBundle;
}
