import assert from "node:assert/strict";
import { dueBy, judgeHeartbeat, type Push } from "./judge.ts";

const T0 = Date.parse("2026-01-01T10:00:00Z");
const push = (at: number, message = ""): Push => ({
  host: "backup1",
  test: "nightly",
  at,
  via: "n2",
  message,
});

Deno.test("judgeHeartbeat: OK within period + grace of the last push, FAIL after", () => {
  const p = push(T0, "backup done 3.2 GB");
  assert.deepEqual(judgeHeartbeat(p, T0 - 5_000, 60_000, 6_000, T0 + 12_000), {
    status: "OK",
    output: "last push 12s ago (2026-01-01T10:00:00Z) via n2: backup done 3.2 GB",
  });
  assert.equal(judgeHeartbeat(p, 0, 60_000, 6_000, T0 + 66_000).status, "OK", "at the deadline");
  assert.deepEqual(judgeHeartbeat(p, 0, 60_000, 6_000, T0 + 66_001), {
    status: "FAIL",
    output: "no push for 1m6s (expected every 1m + 6s grace); " +
      "last push 1m6s ago (2026-01-01T10:00:00Z) via n2: backup done 3.2 GB",
  });
});

Deno.test("judgeHeartbeat: before the first push, the grace runs from when the node started watching", () => {
  assert.deepEqual(judgeHeartbeat(null, T0, 60_000, 6_000, T0 + 1_000), {
    status: "OK",
    output: "waiting for the first push since 2026-01-01T10:00:00Z (expected every 1m + 6s grace)",
  });
  assert.deepEqual(judgeHeartbeat(null, T0, 60_000, 6_000, T0 + 70_000), {
    status: "FAIL",
    output: "no push since 2026-01-01T10:00:00Z, when this node started watching " +
      "(expected every 1m + 6s grace)",
  });
  // A push older than the start of watching does not shorten the grace.
  assert.equal(judgeHeartbeat(push(T0 - 3_600_000), T0, 60_000, 6_000, T0 + 1_000).status, "OK");
});

Deno.test("dueBy: the later of last push and start, plus period and grace", () => {
  assert.equal(dueBy(null, 100, 10, 1), 111);
  assert.equal(dueBy(push(500), 100, 10, 1), 511);
  assert.equal(dueBy(push(50), 100, 10, 1), 111);
});
