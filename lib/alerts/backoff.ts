/**
 * When to try a failed message again. Pure: the delivery loop passes the attempt count.
 * @module
 */

/** First retry delay. */
export const BACKOFF_BASE_MS = 30_000;
/** Longest delay between two attempts. */
export const BACKOFF_MAX_MS = 3_600_000;
/** Attempts before a message is marked failed: with the delays above, about 13 hours. */
export const MAX_ATTEMPTS = 20;

/**
 * Delay before the next attempt, after `attempt` failed attempts (1-based): 30 s, 1 m, 2 m, ...
 * doubling up to 1 h. No jitter: one node's outbox is a single sender, there is no herd to spread.
 * @example
 * backoff(1); // 30_000
 * backoff(3); // 120_000
 */
export function backoff(attempt: number): number {
  if (!(attempt >= 1)) return 0;
  // Cap the exponent so huge attempt counts cannot overflow to Infinity.
  return Math.min(BACKOFF_BASE_MS * 2 ** Math.min(attempt - 1, 30), BACKOFF_MAX_MS);
}
