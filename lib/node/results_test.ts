import assert from "node:assert/strict";
import { memoryLogger } from "../log/mod.ts";
import { METRICS } from "../metrics/mod.ts";
import type { CheckResult } from "../runner/result.ts";
import { StateStore } from "../store/mod.ts";
import { ResultLog } from "./results.ts";

const result = (status: "OK" | "FAIL", at: number): CheckResult => ({
  host: "127.0.0.1",
  test: "tcp",
  status,
  state: status,
  output: status === "OK" ? "up" : "down",
  perfdata: "",
  exitCode: null,
  startedAt: at,
  durationMs: 1,
});

Deno.test("a failure first seen by a confirm run is logged as the change, once, whichever path ran next", () => {
  using store = StateStore.open(":memory:");
  const log = memoryLogger("info");
  const results = new ResultLog(store, log);
  assert.equal(results.record(result("OK", 1), "schedule"), null);
  const runs = () => METRICS.checkRuns.get({ status: "FAIL", state: "FAIL" });
  const before = runs();
  // A peer asks first: its confirm run sees the outage and says so.
  assert.equal(results.record(result("FAIL", 2), "confirm")?.status, "OK");
  // The scheduled run after it sees no change: no second warning.
  assert.equal(results.record(result("FAIL", 3), "schedule")?.status, "FAIL");
  results.record(result("OK", 4), "schedule");
  const failing = log.lines.filter((l) => l.includes("check failing"));
  assert.equal(failing.length, 1, log.lines.join("\n"));
  assert.match(failing[0]!, /status=FAIL .*via=confirm/);
  assert.equal(log.lines.filter((l) => l.includes("check passes again")).length, 1);
  // Both failing runs are counted, confirm runs included.
  assert.equal(runs() - before, 2);
  assert.equal(store.last("127.0.0.1", "tcp")?.status, "OK");
});
