/**
 * Default protocol timings derived from the node's settings, and the settle time and round
 * deadlines derived from measured peer round trips.
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

/** What a claim's settle time leaves beyond its rounds' deadline (answers decoded, state saved). */
export const SETTLE_MARGIN_MS = 250;

/**
 * Timings for a check timeout and interval. `settleMs` is the longest settle time this node
 * uses: half the interval, 1.5-3 s (3 s without an interval), long enough that a view round over
 * a 1 s round trip (500 ms each way) still finishes inside it; each claim uses `settleFor` (the
 * measured round trips) up to it, and advertises the value it uses, so nodes need not agree on
 * one. The view and announcement deadline stays below it (settle - 250 ms at most;
 * `viewDeadlineFor` narrows it to the measured round trips); confirm deadline timeout + 2 s (peers
 * run the check); hand-over 2x the check timeout, at least 6 s (a busy peer is not presumed gone
 * too soon, and always above any settle time); a peer alive by its heartbeat but silent in the
 * rounds blocks a commit for up to 5 hand-over times (30 s at least); recovery hold a quarter of
 * the interval, 0.5-3 s (3 s without an interval): two fresh confirm rounds that far apart must
 * both see it pass; reminders every `remind` ms.
 */
export function defaultTiming(
  s: { timeout: number; interval?: number; remind?: number; recoverHoldMs?: number },
): RoundTiming {
  const settleMs = s.interval === undefined
    ? 3000
    : Math.min(3000, Math.max(1500, Math.round(s.interval / 2)));
  const holdMs = s.interval === undefined
    ? 3000
    : Math.min(3000, Math.max(500, Math.round(s.interval / 4)));
  return {
    confirmDeadlineMs: s.timeout + 2000,
    viewDeadlineMs: settleMs - SETTLE_MARGIN_MS,
    settleMs,
    handoverMs: Math.max(2 * s.timeout, 6000),
    stuckMs: 5 * Math.max(2 * s.timeout, 6000),
    recoverHoldMs: s.recoverHoldMs ?? holdMs,
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

/**
 * The settle time of a claim made now: the view deadline for the measured round trips, plus the
 * time a request gathers in its queue (`lingerMs`, counted in its deadline), plus
 * `SETTLE_MARGIN_MS`; at most `maxMs` (the node's `settleMs`), and `maxMs` until a round trip
 * was measured. The claimer's commit round must finish within it, and its view rounds get its
 * deadline (`roundDeadlineFor`), so a hanging peer never keeps it from committing.
 * @example
 * settleFor(1500, [2, 5], 50); // 600 (a view round of 300 ms, 50 ms gathering, the margin)
 */
export function settleFor(maxMs: number, rtts: Iterable<number>, lingerMs = 0): number {
  const list = [...rtts];
  if (list.length === 0) return maxMs;
  return Math.min(
    maxMs,
    viewDeadlineFor(maxMs - SETTLE_MARGIN_MS, list) + lingerMs + SETTLE_MARGIN_MS,
  );
}

/** The deadline of the view rounds of a claim with this settle time. */
export function roundDeadlineFor(settleMs: number): number {
  return Math.max(1, settleMs - SETTLE_MARGIN_MS);
}
