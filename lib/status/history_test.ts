import assert from "node:assert/strict";
import { historyView, percent, responseOf, timelineOf, uptimeOf } from "./history.ts";
import type { CheckSummary } from "../store/mod.ts";

const H = 3_600_000;
const D = 24 * H;
const T0 = Date.UTC(2026, 0, 10);
const b = (start: number, runs: number, ok: number, sum: number, max: number) => ({
  start,
  runs,
  ok,
  durSumMs: sum,
  durMaxMs: max,
});
const change = (at: number, state: string) => ({
  at,
  status: (state === "OK" || state === "WARNING" ? "OK" : "FAIL") as "OK" | "FAIL",
  state: state as "OK",
  output: "",
});

Deno.test("uptimeOf: passed runs over all runs; null without runs", () => {
  assert.equal(uptimeOf([]), null);
  assert.equal(uptimeOf([b(0, 10, 9, 0, 0), b(1, 10, 10, 0, 0)]), 0.95);
});

Deno.test("percent never rounds up to 100%", () => {
  assert.deepEqual([null, 1, 0.99999, 0.9995, 0.5].map(percent), [
    "—",
    "100%",
    "99.99%",
    "99.95%",
    "50.00%",
  ]);
});

Deno.test("responseOf merges buckets into hours: weighted average, maximum, counts", () => {
  const fine = [b(T0, 10, 10, 100, 20), b(T0 + 600_000, 10, 9, 300, 90), b(T0 + H, 5, 5, 50, 10)];
  assert.deepEqual(responseOf(fine, H), [
    { at: T0, avgMs: 20, maxMs: 90, runs: 20, ok: 19 },
    { at: T0 + H, avgMs: 10, maxMs: 10, runs: 5, ok: 5 },
  ]);
});

Deno.test("timelineOf: the opening state, then each change; equal neighbours merged", () => {
  const s: CheckSummary = {
    fine: [],
    days7: { runs: 0, ok: 0 },
    days30: { runs: 0, ok: 0 },
    before: change(T0 - H, "OK"),
    changes: [change(T0 + H, "CRITICAL"), change(T0 + 2 * H, "OK"), change(T0 + 5 * H, "OK")],
  };
  assert.deepEqual(timelineOf(s, T0, T0 + 10 * H), [
    { from: T0, to: T0 + H, state: "OK" },
    { from: T0 + H, to: T0 + 2 * H, state: "CRITICAL" },
    { from: T0 + 2 * H, to: T0 + 10 * H, state: "OK" },
  ]);
  // No history before the window: unknown until the first run.
  assert.deepEqual(timelineOf({ ...s, before: null }, T0, T0 + 2 * H), [
    { from: T0, to: T0 + H, state: null },
    { from: T0 + H, to: T0 + 2 * H, state: "CRITICAL" },
  ]);
  // A change exactly at the window's start opens it.
  assert.deepEqual(timelineOf({ ...s, changes: [change(T0, "WARNING")] }, T0, T0 + H), [
    { from: T0, to: T0 + H, state: "WARNING" },
  ]);
});

Deno.test("historyView: 24 h from the last 24 hour buckets, 7 and 30 days from the day counts", () => {
  const now = T0 + 12 * H + 30 * 60_000;
  const s: CheckSummary = {
    fine: [
      b(T0 - 12 * H, 100, 0, 0, 0),
      b(T0 - 11 * H, 6, 3, 60, 30),
      b(T0 + 12 * H, 6, 6, 60, 30),
    ],
    days7: { runs: 2160, ok: 2160 },
    days30: { runs: 3600, ok: 2160 },
    changes: [],
    before: null,
  };
  const v = historyView(s, now);
  assert.equal(v.uptime["24h"], 0.75, "the bucket 24 h back is outside, 23 h back inside");
  assert.equal(v.uptime["7d"], 1);
  assert.equal(v.uptime["30d"], 0.6);
  assert.equal(historyView({ ...s, days7: { runs: 0, ok: 0 } }, now).uptime["7d"], null);
  assert.deepEqual(v.timeline, {
    from: now - D,
    to: now,
    segments: [{ from: now - D, to: now, state: null }],
  });
  assert.equal(v.response.length, 3);
});
