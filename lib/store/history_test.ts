import assert from "node:assert/strict";
import { DAY_MS, FINE_MS, RECENT_RUNS, StateStore } from "./mod.ts";
import type { CheckResult } from "../runner/result.ts";

const T0 = Date.UTC(2026, 0, 10); // a UTC midnight
const result = (over: Partial<CheckResult>): CheckResult => ({
  host: "h",
  test: "t",
  status: "OK",
  state: "OK",
  output: "fine",
  perfdata: "",
  exitCode: 0,
  startedAt: T0,
  durationMs: 10,
  ...over,
});

Deno.test("runs roll up into hour and day buckets: counts, passes, sum and max duration", () => {
  using s = StateStore.open(":memory:");
  s.record(result({ startedAt: T0 + 1000, durationMs: 10 }));
  s.record(result({ startedAt: T0 + 2000, durationMs: 30, status: "FAIL", state: "CRITICAL" }));
  s.record(result({ startedAt: T0 + FINE_MS + 5, durationMs: 20 }));
  const sum = s.summary("h", "t", T0 + 2 * FINE_MS);
  assert.deepEqual(sum.fine, [
    { start: T0, runs: 2, ok: 1, durSumMs: 40, durMaxMs: 30 },
    { start: T0 + FINE_MS, runs: 1, ok: 1, durSumMs: 20, durMaxMs: 20 },
  ]);
  assert.deepEqual(s.days("h", "t", T0), [{
    start: T0,
    runs: 3,
    ok: 2,
    durSumMs: 60,
    durMaxMs: 30,
  }]);
  assert.deepEqual([sum.days7, sum.days30], [{ runs: 3, ok: 2 }, { runs: 3, ok: 2 }]);
  assert.deepEqual(sum.changes.map((c) => [c.at - T0, c.state]), [
    [1000, "OK"],
    [2000, "CRITICAL"],
    [FINE_MS + 5, "OK"],
  ]);
  assert.equal(sum.before, null);
  assert.deepEqual(s.summary("other", "x", T0), {
    fine: [],
    days7: { runs: 0, ok: 0 },
    days30: { runs: 0, ok: 0 },
    changes: [],
    before: null,
  });
});

Deno.test("a state change is kept only when status or state changes", () => {
  using s = StateStore.open(":memory:");
  for (let i = 0; i < 5; i++) s.record(result({ startedAt: T0 + i * 1000 }));
  s.record(result({ startedAt: T0 + 5000, state: "WARNING" })); // WARNING passes: state differs
  s.record(result({ startedAt: T0 + 6000, state: "WARNING" }));
  assert.deepEqual(s.changes("h", "t", 0).map((c) => [c.at - T0, c.status, c.state]), [
    [5000, "OK", "WARNING"],
    [0, "OK", "OK"],
  ]);
});

Deno.test("prune: fine buckets after 25 h, days after the retention (31 d at least), changes but the last before the cut, raw runs past the cap", () => {
  using s = StateStore.open(":memory:");
  // One run a day for 40 days, failing on day 3 only, and RECENT_RUNS + 5 runs on the last day.
  for (let d = 0; d < 40; d++) {
    s.record(result({ startedAt: T0 + d * DAY_MS, status: d === 3 ? "FAIL" : "OK" }));
  }
  const last = T0 + 39 * DAY_MS;
  for (let i = 1; i <= RECENT_RUNS + 5; i++) s.record(result({ startedAt: last + i * 100 }));
  const now = last + 3_600_000;
  s.prune(now, 7 * DAY_MS);
  assert.equal(s.history("h", "t", 1000).length, RECENT_RUNS, "raw runs capped per check");
  const rows = (sql: string) => (s.db.prepare(sql).get() as { n: number }).n;
  // Fine buckets of day 38 (exactly 25 h back) and day 39.
  assert.equal(rows("SELECT COUNT(*) AS n FROM check_rollup WHERE tier = 0"), 2);
  // 31 days kept although history_retention is 7 d: day 39 back to day 8 (bucket of now - 31 d).
  assert.equal(rows("SELECT COUNT(*) AS n FROM check_rollup WHERE tier = 1"), 32);
  // Changes: ok@0, fail@3, ok@4; all before the 7-day cut: the newest of them stays.
  assert.deepEqual(s.changes("h", "t", 0).map((c) => (c.at - T0) / DAY_MS), [4]);
  const sum = s.summary("h", "t", now);
  assert.equal(sum.before?.status, "OK", "the state the 24 h window opens with");
  assert.equal(s.days("h", "t", now).length, 30, "30 days, today included");
  // Days 33-39 ran once each, and today RECENT_RUNS + 5 more times, all passing; day 3's
  // failure is older than 30 days.
  assert.deepEqual(sum.days7, { runs: 7 + RECENT_RUNS + 5, ok: 7 + RECENT_RUNS + 5 });
  assert.deepEqual(sum.days30, { runs: 30 + RECENT_RUNS + 5, ok: 30 + RECENT_RUNS + 5 });
});

Deno.test("summaries covers every check in one pass", () => {
  using s = StateStore.open(":memory:");
  s.record(result({ host: "a", test: "ping", startedAt: T0 }));
  s.record(result({ host: "b", test: "ssh", startedAt: T0, status: "TIMEOUT", state: "TIMEOUT" }));
  const all = s.summaries(T0 + 1000);
  assert.deepEqual([...all.keys()].sort(), ["a\tping", "b\tssh"]);
  assert.equal(all.get("b\tssh")!.fine[0]!.ok, 0);
});
