import assert from "node:assert/strict";
import { Deadlines, type TimerDeps } from "./deadline.ts";

/** A fake clock: timers fire only when the test advances it. */
function fakeTimers() {
  let now = 0;
  let next = 1;
  const timers = new Map<number, { at: number; fn: () => void }>();
  const deps: TimerDeps = {
    now: () => now,
    setTimer: (fn, ms) => {
      timers.set(next, { at: now + ms, fn });
      return next++;
    },
    clearTimer: (id) => void timers.delete(id as number),
  };
  const advance = (to: number) => {
    for (;;) {
      const due = [...timers].filter(([, t]) => t.at <= to).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      timers.delete(due[0]);
      now = due[1].at;
      due[1].fn();
    }
    now = to;
  };
  return { deps, advance, armed: () => timers.size };
}

Deno.test("deadlines: fire in order, cancelled ones never, one timer per length", () => {
  const t = fakeTimers();
  const d = new Deadlines(t.deps);
  const fired: string[] = [];
  d.after(100, () => fired.push("a"));
  t.advance(10);
  const cancelB = d.after(100, () => fired.push("b"));
  t.advance(20);
  d.after(100, () => fired.push("c"));
  d.after(50, () => fired.push("short"));
  assert.equal(t.armed(), 2, "one timer per timeout length");
  cancelB();
  t.advance(99);
  assert.deepEqual(fired, ["short"]);
  t.advance(100);
  assert.deepEqual(fired, ["short", "a"]);
  t.advance(119);
  assert.deepEqual(fired, ["short", "a"], "b was cancelled, c is not due");
  t.advance(120);
  assert.deepEqual(fired, ["short", "a", "c"]);
  assert.equal(t.armed(), 0, "nothing waits, no timer is left");
});

Deno.test("deadlines: cancelling all releases the timer; a run added while others fire waits its turn", () => {
  const t = fakeTimers();
  const d = new Deadlines(t.deps);
  const cancels = Array.from({ length: 3000 }, () => d.after(10, () => assert.fail("cancelled")));
  for (const c of cancels) c();
  assert.equal(t.armed(), 0);
  const fired: number[] = [];
  d.after(10, () => {
    fired.push(t.deps.now());
    d.after(10, () => fired.push(t.deps.now()));
  });
  t.advance(5);
  d.after(10, () => fired.push(t.deps.now()));
  t.advance(100);
  assert.deepEqual(fired, [10, 15, 20]);
  assert.equal(t.armed(), 0);
});
