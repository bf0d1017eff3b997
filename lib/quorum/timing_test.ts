import assert from "node:assert/strict";
import { defaultTiming, roundDeadlineFor, settleFor, viewDeadlineFor } from "./timing.ts";

Deno.test("defaultTiming: settle follows the interval (1.5-3 s), the view deadline stays below it", () => {
  for (
    const [interval, settle] of [[undefined, 3000], [2000, 1500], [4000, 2000], [8000, 3000], [
      10_000,
      3000,
    ], [60_000, 3000]] as const
  ) {
    const t = defaultTiming({ timeout: 1000, interval });
    assert.equal(t.settleMs, settle, `interval ${interval}`);
    assert.ok(t.viewDeadlineMs < t.settleMs);
    assert.equal(t.handoverMs, 6000);
  }
  assert.equal(defaultTiming({ timeout: 10_000 }).handoverMs, 20_000);
  assert.equal(defaultTiming({ timeout: 10_000 }).confirmDeadlineMs, 12_000);
});

Deno.test("viewDeadlineFor: from the slowest peer's round trip, 300 ms to the cap", () => {
  assert.equal(viewDeadlineFor(2750, []), 2750, "nothing measured yet: the cap");
  assert.equal(viewDeadlineFor(2750, [3, 12]), 300);
  assert.equal(viewDeadlineFor(2750, [3, 400]), 1800);
  assert.equal(viewDeadlineFor(2750, [1100]), 2750, "a slow link never exceeds the cap");
});

Deno.test("defaultTiming: the recovery hold is a quarter of the interval, 0.5-3 s", () => {
  for (
    const [interval, hold] of [[undefined, 3000], [1000, 500], [2000, 500], [4000, 1000], [
      60_000,
      3000,
    ]] as const
  ) assert.equal(defaultTiming({ timeout: 1000, interval }).recoverHoldMs, hold, `${interval}`);
  assert.equal(defaultTiming({ timeout: 1000, interval: 2000, recoverHoldMs: 0 }).recoverHoldMs, 0);
});

Deno.test("settleFor: a claim's settle time from the round trips, its rounds' deadline inside it", () => {
  assert.equal(settleFor(1500, []), 1500, "nothing measured yet: the configured settle time");
  assert.equal(settleFor(1500, [2, 5]), 550, "loopback: a 300 ms view round plus the margin");
  assert.equal(settleFor(3000, [400]), 2050);
  assert.equal(settleFor(1500, [1000]), 1500, "500 ms each way: capped at the configured time");
  assert.equal(settleFor(1500, [2, 5], 50), 600, "the time a request gathers in its queue");
  for (const rtts of [[], [1], [100], [1000]]) {
    const settle = settleFor(3000, rtts);
    assert.ok(roundDeadlineFor(settle) < settle);
    assert.ok(roundDeadlineFor(settle) >= viewDeadlineFor(2750, rtts) || rtts.length === 0);
  }
});
