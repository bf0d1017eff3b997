/**
 * Comparing secrets (peer signatures, status tokens, Tentacle passwords) in constant time, in one
 * place: node:crypto's timingSafeEqual, which needs equal lengths, behind a total function.
 * @module
 */
import { timingSafeEqual } from "node:crypto";

const encoder = new TextEncoder();

/** True when `a` and `b` hold the same bytes; the time taken does not depend on where they differ. */
export function constantTimeEqual(a: string | Uint8Array, b: string | Uint8Array): boolean {
  const x = typeof a === "string" ? encoder.encode(a) : a;
  const y = typeof b === "string" ? encoder.encode(b) : b;
  return x.length === y.length && timingSafeEqual(x, y);
}
