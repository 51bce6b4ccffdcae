/**
 * Libraries that every approval workflow loads and that keep no per-workflow state: the worker
 * loads them once per workflow thread and shares them, deep-frozen, across the workflows it runs
 * (BundleOptions.preloadModules, worker/bundle.ts), instead of evaluating them again for every new
 * workflow. Imported here exactly as the workflows import them, so the bundler resolves the same files.
 *
 * Only pure code belongs here: module state is shared by every workflow on the thread. zod does not
 * qualify: it fills in its global configuration and its classes' prototypes lazily, on first use,
 * which the freeze forbids ("Cannot add property localeError, object is not extensible").
 */
export * as ed25519 from '@noble/curves/ed25519.js';
export * as nist from '@noble/curves/nist.js';
export * as sha2 from '@noble/hashes/sha2.js';
export * as hashUtils from '@noble/hashes/utils.js';
