/**
 * Remembers request nonces until their timestamps fall out of the skew window, so a captured
 * request cannot be replayed. Bounded: when full of unexpired nonces it refuses new ones instead
 * of forgetting old ones (forgetting would reopen the replay window). Only requests with a valid
 * signature reach it, so only key holders can fill it.
 * @module
 */

export type NonceVerdict = "fresh" | "replayed" | "full";

export class NonceCache {
  readonly #ttlMs: number;
  readonly #max: number;
  /** nonce -> expiry; Map keeps insertion order, which is expiry order for a steady clock. */
  readonly #seen = new Map<string, number>();

  constructor(opts: { ttlMs: number; max: number }) {
    this.#ttlMs = opts.ttlMs;
    this.#max = opts.max;
  }

  get size(): number {
    return this.#seen.size;
  }

  /** Records `nonce` at `now` unless it was seen (replay) or the cache is full. */
  check(nonce: string, now: number): NonceVerdict {
    this.#prune(now);
    if (this.#seen.has(nonce)) return "replayed";
    if (this.#seen.size >= this.#max) return "full";
    this.#seen.set(nonce, now + this.#ttlMs);
    return "fresh";
  }

  #prune(now: number): void {
    for (const [nonce, expires] of this.#seen) {
      if (expires > now) break;
      this.#seen.delete(nonce);
    }
  }
}
