import assert from "node:assert/strict";
import { type LimiterTimers, LogLimiter } from "./log_limiter.ts";

function fakeTimers() {
  const pending: { fn: () => void; ms: number; dead: boolean }[] = [];
  const timers: LimiterTimers = {
    set: (fn, ms) => {
      const t = { fn, ms, dead: false };
      pending.push(t);
      return t;
    },
    clear: (h) => {
      (h as { dead: boolean }).dead = true;
    },
  };
  const fire = () => {
    for (const t of pending.splice(0)) if (!t.dead) t.fn();
  };
  return { timers, pending, fire };
}

Deno.test("LogLimiter: a flood makes perWindow lines, then one summary with the rest", () => {
  let now = 0;
  const { timers, pending, fire } = fakeTimers();
  const l = new LogLimiter({ clock: () => now, perWindow: 3, windowMs: 1000, timers });
  const lines: string[] = [];
  for (let i = 0; i < 100; i++) {
    l.run("x", (s) => lines.push(`line ${s}`), (n) => lines.push(`summary ${n}`));
  }
  assert.deepEqual(lines, ["line 0", "line 0", "line 0"]);
  assert.equal(pending.length, 1, "one summary timer per window");
  assert.equal(pending[0]!.ms, 1000);
  now = 1000;
  fire();
  assert.deepEqual(lines.slice(3), ["summary 97"]);
  // A later line reports only what no summary reported.
  l.run("x", (s) => lines.push(`line ${s}`));
  assert.deepEqual(lines.slice(4), ["line 0"]);
});

Deno.test("LogLimiter: without a summary the next line carries the count; keys are bounded", () => {
  let now = 0;
  const { timers, pending } = fakeTimers();
  const l = new LogLimiter({ clock: () => now, perWindow: 1, windowMs: 1000, timers, maxKeys: 2 });
  const got: [string, number][] = [];
  for (let i = 0; i < 5; i++) l.run("a", (s) => got.push(["a", s]));
  assert.equal(pending.length, 0);
  now = 1500;
  l.run("a", (s) => got.push(["a", s]));
  assert.deepEqual(got, [["a", 0], ["a", 4]]);
  // Distinct keys beyond maxKeys share one budget instead of growing the map.
  for (let i = 0; i < 50; i++) l.run(`k${i}`, (s) => got.push([`k${i}`, s]));
  assert.deepEqual(got.slice(2).map(([k]) => k), ["k0", "k1"]);
});
