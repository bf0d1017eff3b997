/**
 * Digests that need no Node compatibility layer: synchronous SHA-256 for the code a default
 * `dmonitor run` loads (issue 14).
 * @module
 */
export { sha256, sha256Hex } from "./sha256.ts";
