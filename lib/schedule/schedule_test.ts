import assert from "node:assert/strict";
import { FakeClock, firstDue, nextDue, Scheduler, settle } from "./mod.ts";

Deno.test("firstDue spreads jobs across the interval and is stable", () => {
  const interval = 60_000;
  const dues = Array.from({ length: 1000 }, (_, i) => firstDue(`host${i}\tping`, interval, 0));
  assert.ok(dues.every((d) => d >= 0 && d < interval));
  // Every 6 s bucket holds roughly a tenth of the jobs, never a pile-up.
  const buckets = new Array(10).fill(0);
  for (const d of dues) buckets[Math.floor(d / 6000)]++;
  assert.ok(buckets.every((n) => n > 60 && n < 140), `buckets ${buckets}`);
  assert.equal(firstDue("a\tb", interval, 0), firstDue("a\tb", interval, 0));
});

Deno.test("nextDue skips slots missed while busy", () => {
  assert.equal(nextDue(1000, 100, 1050), 1100);
  assert.equal(nextDue(1000, 100, 1250), 1300);
  assert.equal(nextDue(1000, 100, 1300), 1400);
});

Deno.test("each job runs once per interval; a slow job is skipped, not doubled, and others go on", async () => {
  const clock = new FakeClock(0);
  const runs: string[] = [];
  const gates = new Map<string, () => void>();
  const s = new Scheduler<{ key: string; interval: number }>({
    clock,
    run: (job) => {
      runs.push(`${job.key}@${clock.now()}`);
      if (job.key === "slow") return new Promise((r) => gates.set("slow", r));
      return Promise.resolve();
    },
  });
  s.setJobs([{ key: "fast", interval: 1000 }, { key: "slow", interval: 1000 }]);
  const ctl = new AbortController();
  const loop = s.loop(ctl.signal);
  await clock.advance(3000);
  const fast = runs.filter((r) => r.startsWith("fast"));
  const slow = runs.filter((r) => r.startsWith("slow"));
  assert.equal(fast.length, 3, runs.join(" "));
  assert.equal(slow.length, 1, "slow job never runs twice at once");
  assert.ok(s.overruns >= 2);
  gates.get("slow")!();
  await clock.advance(1000);
  assert.equal(runs.filter((r) => r.startsWith("slow")).length, 2);
  ctl.abort();
  gates.get("slow")!(); // the loop waits for in-flight runs before it returns
  await loop;
});

Deno.test("setJobs wakes the loop, keeps slots of unchanged jobs and drops removed ones", async () => {
  const clock = new FakeClock(0);
  const runs: string[] = [];
  const s = new Scheduler<{ key: string; interval: number }>({
    clock,
    run: (job) => (runs.push(job.key), Promise.resolve()),
  });
  const ctl = new AbortController();
  const loop = s.loop(ctl.signal);
  await settle();
  s.setJobs([{ key: "a", interval: 500 }]);
  await clock.advance(1000);
  assert.equal(runs.filter((k) => k === "a").length, 2);
  s.setJobs([{ key: "b", interval: 500 }]);
  runs.length = 0;
  await clock.advance(1000);
  assert.deepEqual([...new Set(runs)], ["b"]);
  assert.equal(s.size, 1);
  ctl.abort();
  await loop;
});
