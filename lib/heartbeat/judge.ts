/**
 * The heartbeat verdict: a pure function of the last push this node knows of (its own or one a
 * peer shared), when this node started watching, the period, the grace and `now`.
 * @module
 */
import type { CheckOutcome } from "../checks/types.ts";
import { formatDuration } from "../config/values.ts";

/** The last push of one host/test: when, which node received it, the first line it carried. */
export interface Push {
  host: string;
  test: string;
  /** Epoch ms, on the receiving node's clock. */
  at: number;
  /** The node that received it. */
  via: string;
  message: string;
}

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
const age = (ms: number) => formatDuration(Math.max(0, Math.floor(ms / 1000) * 1000)) || "0s";

/** When the next push is due at the latest: the last one (or the start of watching) + period + grace. */
export function dueBy(last: Push | null, watchingSince: number, period: number, grace: number) {
  return Math.max(last?.at ?? -Infinity, watchingSince) + period + grace;
}

/**
 * OK while a push arrived within period + grace (or, before the first, since this node started
 * watching); FAIL after, saying since when and what was expected.
 * @example
 * judgeHeartbeat(null, 0, 60_000, 6_000, 70_000).status; // "FAIL"
 */
export function judgeHeartbeat(
  last: Push | null,
  watchingSince: number,
  period: number,
  grace: number,
  now: number,
): CheckOutcome {
  const expected = `expected every ${formatDuration(period)} + ${formatDuration(grace)} grace`;
  const seen = last
    ? `last push ${age(now - last.at)} ago (${iso(last.at)}) via ${last.via}` +
      (last.message ? `: ${last.message}` : "")
    : null;
  if (now <= dueBy(last, watchingSince, period, grace)) {
    return {
      status: "OK",
      output: seen ?? `waiting for the first push since ${iso(watchingSince)} (${expected})`,
    };
  }
  return {
    status: "FAIL",
    output: seen
      ? `no push for ${age(now - last!.at)} (${expected}); ${seen}`
      : `no push since ${iso(watchingSince)}, when this node started watching (${expected})`,
  };
}
