import assert from "node:assert/strict";
import { defaultTiming, viewDeadlineFor } from "./timing.ts";

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
