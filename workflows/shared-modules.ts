/**
 * Libraries that every approval workflow loads and that keep no per-workflow state: the worker
 * loads them once per workflow thread and shares them, deep-frozen, across the workflows it runs
 * (BundleOptions.preloadModules, worker/bundle.ts), instead of evaluating them again for every new
 * workflow. Imported here exactly as the workflows import them, so the bundler resolves the same files.
 *
 * Only pure code belongs here: module state is shared by every workflow on the thread.
 *
 * zod qualifies once it has set itself up. The first schema it builds fills in its global
 * configuration (the English messages, the memoizer); each writes to an object the freeze would
 * lock ("Cannot add property localeError, object is not extensible" in every workflow when nothing
 * was built here). Building one object schema below does that before the freeze. zod runs without
 * JIT here (below), so it never probes or uses `new Function` in a workflow. After that zod writes to the schemas
 * themselves, which each workflow builds for itself (common/inputs.ts is evaluated per workflow
 * and is never shared), and to its classes' prototypes, which the freeze leaves open (it freezes a
 * function, not its prototype): the members it installs there once are the same for every
 * workflow. A parse keeps no state between calls that it reads back.
 *
 * One more write would throw: zod resets `lastIndex` on a string format's RegExp before each test,
 * and for many formats that RegExp is one of zod's own, frozen here (email, uuid, guid, url,
 * lowercase, uppercase, iso.date, ipv4, hex…). A workflow schema must check such formats with its
 * own `.regex()`, which each workflow builds; `test/unit/shared-zod.test.ts` freezes zod as the
 * worker does and runs every parse a workflow makes, so a schema that reaches one fails there.
 */
import { z } from 'zod';

export * as ed25519 from '@noble/curves/ed25519.js';
export * as nist from '@noble/curves/nist.js';
export * as sha2 from '@noble/hashes/sha2.js';
export * as hashUtils from '@noble/hashes/utils.js';
export { z };

// Without JIT: each workflow builds its own schemas and parses each once or twice, so compiling an
// object schema's fast path (`new Function`, per schema, per workflow) costs more than it saves.
z.config({ jitless: true });
z.object({ setUp: z.string() });
