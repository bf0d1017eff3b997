/**
 * `heartbeat`: a dead-man's switch. A job pushes `POST /v1/push/<host>/<test>` to any node with
 * the test's token; the check fails when no push arrived within `period` (default: the test's
 * interval) plus `grace`. The pushes are received, shared between nodes and judged by the running
 * node (lib/heartbeat): this module holds only the parameters, the judging hook, and the stand-in
 * that `dmonitor check` runs, which has no pushes to look at.
 * @module
 */
import type { BuiltinCheck, CheckContext, CheckOutcome, ParamSpec } from "./types.ts";

export const HEARTBEAT_PARAMS: Record<string, ParamSpec> = {
  token: {
    type: "string",
    required: true,
    minLength: 16,
    doc:
      "Secret the job presents (Authorization: Bearer TOKEN, or ?token=); 16 characters or more.",
  },
  period: {
    type: "duration",
    min: 1000,
    doc: "How often the job pushes (default: the test's interval).",
  },
  grace: {
    type: "duration",
    min: 0,
    doc: "How late a push may be before the check fails (default: a tenth of period, at least 1s).",
  },
};

const DOC = "Fails when no push to POST /v1/push/<host>/<test> arrived within period + grace.";

/** The check with its judge: `judge(host, test, period, grace, o)` says OK or FAIL. */
export function createHeartbeatCheck(
  judge: (
    host: string,
    test: string,
    periodMs: number,
    graceMs: number,
    o: { signal: AbortSignal; timeoutMs: number },
  ) => Promise<CheckOutcome>,
): BuiltinCheck {
  return {
    name: "heartbeat",
    doc: DOC,
    params: HEARTBEAT_PARAMS,
    run: (ctx: CheckContext) => {
      const { periodMs, graceMs } = heartbeatTiming(ctx.params, ctx.intervalMs ?? 30_000);
      return judge(ctx.host, ctx.test ?? "heartbeat", periodMs, graceMs, {
        signal: ctx.signal,
        timeoutMs: ctx.timeoutMs,
      });
    },
  };
}

/** The push period and grace of a test's parameters. Pure. */
export function heartbeatTiming(
  params: Record<string, unknown>,
  intervalMs: number,
): { periodMs: number; graceMs: number } {
  const periodMs = typeof params.period === "number" ? params.period : intervalMs;
  const graceMs = typeof params.grace === "number"
    ? params.grace
    : Math.max(1000, Math.round(periodMs / 10));
  return { periodMs, graceMs };
}

/** What `dmonitor check` (and any executor without a node's pushes) runs. */
export const heartbeat: BuiltinCheck = createHeartbeatCheck(() =>
  Promise.resolve({
    status: "FAIL",
    output: "heartbeat tests are judged by the running node from the pushes it receives " +
      "(POST /v1/push/<host>/<test>); see 'dmonitor status'",
  })
);
