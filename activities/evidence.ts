/** Signing a bundle lives beneath the worker and the server alike (crypto/evidence.ts); kept here for its importers. */
export { signEvidence, type SignedEvidence } from '../crypto/evidence';
