/**
 * Comparing secrets (peer signatures, status tokens, Tentacle passwords) in constant time, in one
 * place. Written out rather than node:crypto's timingSafeEqual: loading node:crypto pulls in Deno's
 * Node compatibility layer, several MiB resident on every node (issue 14).
 * @module
 */

const encoder = new TextEncoder();

/** True when `a` and `b` hold the same bytes; the time taken does not depend on where they differ. */
export function constantTimeEqual(a: string | Uint8Array, b: string | Uint8Array): boolean {
  const x = typeof a === "string" ? encoder.encode(a) : a;
  const y = typeof b === "string" ? encoder.encode(b) : b;
  if (x.length !== y.length) return false;
  let diff = 0;
  for (let i = 0; i < x.length; i++) diff |= x[i]! ^ y[i]!;
  return diff === 0;
}
