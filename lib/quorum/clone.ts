/**
 * A deep copy of plain data: objects, arrays and primitives, which is what the engine's states are
 * (they are persisted as JSON). It gives what `structuredClone` gives for them at a tenth of the
 * cost (0.4 against 3.8 µs for a down state with three votes): structuredClone goes through V8's
 * value serializer, and every step of every incident copies its state, so in the recovery of a
 * 3,000-check outage it was 3-4% of the notifying node's CPU.
 * @module
 */

/** A deep copy of `x`, which must be plain data (no Map, Date, class instance or cycle). */
export function cloneData<T>(x: T): T {
  if (typeof x !== "object" || x === null) return x;
  if (Array.isArray(x)) return x.map(cloneData) as T;
  const out: Record<string, unknown> = {};
  for (const k in x) out[k] = cloneData((x as Record<string, unknown>)[k]);
  return out as T;
}
