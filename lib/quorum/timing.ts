/**
 * Default protocol timings derived from the node's settings.
 * @module
 */
import type { QuorumTiming } from "./incident.ts";

/** Deadlines of the two kinds of rounds and the protocol timings, all in ms. */
export interface RoundTiming extends QuorumTiming {
  /** Deadline of a confirm round: peers run their check, so a little above the check timeout. */
  confirmDeadlineMs: number;
  /** Deadline of a view round: peers only report their state. */
  viewDeadlineMs: number;
}

/**
 * Timings for a check timeout and interval. Settle: half the interval, 1.5-3 s (3 s without an
 * interval), the same on every node that has the same `interval` (the exactly-one argument needs
 * one settle time across the cluster), long enough that a view round over a 1 s round trip (500 ms
 * each way) still finishes inside it; the view and announcement
 * deadline stays below it (settle - 250 ms at most; `viewDeadlineFor` narrows it to the measured
 * round trips); confirm deadline timeout + 2 s (peers run the check); hand-over 2x the check
 * timeout, at least 6 s (a busy peer is not presumed gone too soon); a peer alive by its heartbeat
 * but silent in the rounds blocks a commit for up to 5 hand-over times (30 s at least); recovery hold 0 (recovery
 * still needs two passing rounds in a row, a check interval apart); reminders every `remind` ms.
 */
export function defaultTiming(
  s: { timeout: number; interval?: number; remind?: number; recoverHoldMs?: number },
): RoundTiming {
  const settleMs = s.interval === undefined
    ? 3000
    : Math.min(3000, Math.max(1500, Math.round(s.interval / 2)));
  return {
    confirmDeadlineMs: s.timeout + 2000,
    viewDeadlineMs: settleMs - 250,
    settleMs,
    handoverMs: Math.max(2 * s.timeout, 6000),
    stuckMs: 5 * Math.max(2 * s.timeout, 6000),
    recoverHoldMs: s.recoverHoldMs ?? 0,
    remindMs: s.remind ?? 0,
  };
}

/**
 * The deadline of a view round or announcement: four times the slowest peer's smoothed round trip
 * plus 200 ms, at least 300 ms, at most `maxMs` (below the settle time). Without measurements yet,
 * `maxMs`.
 * @example
 * viewDeadlineFor(2750, [3, 12]); // 300
 */
export function viewDeadlineFor(maxMs: number, rtts: Iterable<number>): number {
  let worst = -1;
  for (const r of rtts) worst = Math.max(worst, r);
  if (worst < 0) return maxMs;
  return Math.min(maxMs, Math.max(300, Math.round(4 * worst + 200)));
}
