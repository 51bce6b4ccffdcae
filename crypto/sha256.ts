import { createHash } from 'node:crypto';

/** Node's native SHA-256, hex: the same digest as common/digest's pure-JS one (which workflows need), several times faster. */
export function nativeSha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}
