/**
 * When to try a failed site again. Pure: the puller passes the attempt count and a random number,
 * so tests need no timers and no randomness.
 * @module
 */

export interface BackoffPolicy {
  /** Delay after the first failure, ms. */
  baseMs: number;
  /** Longest delay, ms. */
  maxMs: number;
}

/**
 * Delay before attempt `attempt + 1`, after `attempt` consecutive failures (1-based): base,
 * 2 x base, 4 x base, ... capped at `maxMs`, then scaled into [50%, 100%] by `rand` (in [0, 1)),
 * so that many sites failing together (the central's own uplink went down) do not retry in step.
 * @example
 * syncBackoff(1, { baseMs: 2000, maxMs: 60000 }, 1);   // 2000
 * syncBackoff(3, { baseMs: 2000, maxMs: 60000 }, 0);   // 4000 (8000 halved)
 */
export function syncBackoff(attempt: number, policy: BackoffPolicy, rand = 1): number {
  if (!(attempt >= 1)) return 0;
  const full = Math.min(policy.baseMs * 2 ** Math.min(attempt - 1, 40), policy.maxMs);
  const r = Math.min(Math.max(rand, 0), 1);
  return Math.round(full * (0.5 + 0.5 * r));
}
