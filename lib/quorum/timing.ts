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
 * Timings for a check timeout and interval: confirm deadline timeout + 2 s; view deadline 1.5 s;
 * settle 3 s (must exceed the view deadline); hand-over 2x the check timeout, at least 2x settle;
 * recovery hold 0 (recovery still needs two passing rounds in a row, a check interval apart);
 * reminders every `remind` ms (Settings.remind; 0 or absent: none).
 */
export function defaultTiming(
  s: { timeout: number; remind?: number; recoverHoldMs?: number },
): RoundTiming {
  const viewDeadlineMs = 1500;
  const settleMs = 3000;
  return {
    confirmDeadlineMs: s.timeout + 2000,
    viewDeadlineMs,
    settleMs,
    handoverMs: Math.max(2 * s.timeout, 2 * settleMs),
    recoverHoldMs: s.recoverHoldMs ?? 0,
    remindMs: s.remind ?? 0,
  };
}
