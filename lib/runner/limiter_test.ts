import assert from "node:assert/strict";
import { Limiter, PluginRunner } from "./limiter.ts";
import type { CheckResult } from "./result.ts";
import type { PluginSpec } from "./run.ts";
import { pluginFixture } from "./testing.ts";

/** A task whose completion the test controls. */
function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => [resolve, reject] = [res, rej]);
  return { promise, resolve, reject };
}

/** Lets queued microtasks (slot hand-overs) run. */
const settle = () => new Promise((r) => setTimeout(r, 0));

Deno.test("Limiter: never more than `concurrency` at once, first come first served", async () => {
  const limiter = new Limiter(2);
  const gates = Array.from({ length: 5 }, () => deferred<number>());
  const started: number[] = [];
  let running = 0;
  let peak = 0;
  const results = gates.map((g, i) =>
    limiter.run(`k${i}`, async () => {
      started.push(i);
      peak = Math.max(peak, ++running);
      try {
        return await g.promise;
      } finally {
        running--;
      }
    })
  );
  await settle();
  assert.deepEqual(started, [0, 1]);
  assert.deepEqual([limiter.active, limiter.waiting], [2, 3]);
  gates[1]!.resolve(1);
  await settle();
  assert.deepEqual(started, [0, 1, 2]);
  gates[0]!.resolve(0);
  gates[2]!.resolve(2);
  await settle();
  assert.deepEqual(started, [0, 1, 2, 3, 4]);
  gates[3]!.resolve(3);
  gates[4]!.resolve(4);
  assert.deepEqual(await Promise.all(results), [0, 1, 2, 3, 4]);
  assert.equal(peak, 2);
  assert.deepEqual([limiter.active, limiter.waiting], [0, 0]);
});

Deno.test("Limiter: a second request for a running key joins it", async () => {
  const limiter = new Limiter(4);
  const gate = deferred<string>();
  let calls = 0;
  const task = () => (calls++, gate.promise);
  const a = limiter.run("db1\0ssh", task);
  const b = limiter.run("db1\0ssh", task);
  assert.equal(a, b);
  assert.ok(limiter.has("db1\0ssh"));
  gate.resolve("done");
  assert.deepEqual(await Promise.all([a, b]), ["done", "done"]);
  assert.equal(calls, 1);
  assert.equal(limiter.has("db1\0ssh"), false);
  // Once finished, the key runs afresh.
  assert.equal(await limiter.run("db1\0ssh", () => (calls++, Promise.resolve("again"))), "again");
  assert.equal(calls, 2);
});

Deno.test("Limiter: a queued key is joined too, and does not take a second slot", async () => {
  const limiter = new Limiter(1);
  const first = deferred<void>();
  let queuedCalls = 0;
  const blocker = limiter.run("a", () => first.promise);
  const q1 = limiter.run("b", () => (queuedCalls++, Promise.resolve(1)));
  const q2 = limiter.run("b", () => (queuedCalls++, Promise.resolve(2)));
  assert.equal(limiter.waiting, 1);
  first.resolve();
  await blocker;
  assert.deepEqual(await Promise.all([q1, q2]), [1, 1]);
  assert.equal(queuedCalls, 1);
});

Deno.test("Limiter: a failing task frees its slot and its key, and rejects every joiner", async () => {
  const limiter = new Limiter(1);
  const a = limiter.run("k", () => Promise.reject(new Error("boom")));
  const b = limiter.run("k", () => Promise.resolve("never"));
  await assert.rejects(a, /boom/);
  await assert.rejects(b, /boom/);
  assert.equal(await limiter.run("k", () => Promise.resolve("ok")), "ok");
  assert.equal(limiter.active, 0);
});

Deno.test("Limiter: rejects a bad concurrency", () => {
  for (const bad of [0, -1, 1.5, NaN]) {
    assert.throws(() => new Limiter(bad), /concurrency must be an integer >= 1/);
  }
});

function fakeResult(spec: PluginSpec): CheckResult {
  return {
    host: spec.host,
    test: spec.test,
    status: "OK",
    state: "OK",
    output: JSON.stringify(spec.user ?? null),
    perfdata: "",
    exitCode: 0,
    startedAt: 0,
    durationMs: 0,
  };
}

Deno.test("PluginRunner: keys on host+test, applies the default user, passes deps", async () => {
  const gate = deferred<void>();
  const seen: PluginSpec[] = [];
  const deps = { nodeUid: 0 };
  const runner = new PluginRunner({
    concurrency: 8,
    user: { uid: 7, gid: 8 },
    deps,
    run: async (spec, d) => {
      assert.equal(d.nodeUid, 0);
      seen.push(spec);
      await gate.promise;
      return fakeResult(spec);
    },
  });
  const base = { path: "/p", timeoutMs: 1000 };
  const a = runner.run({ ...base, host: "h1", test: "ssh" });
  const b = runner.run({ ...base, host: "h1", test: "ssh" });
  const c = runner.run({ ...base, host: "h1", test: "http" });
  const d = runner.run({ ...base, host: "h2", test: "ssh", user: null });
  assert.ok(runner.isRunning("h1", "ssh"));
  await settle();
  assert.equal(runner.active, 3);
  gate.resolve();
  const [ra, rb, rc, rd] = await Promise.all([a, b, c, d]);
  assert.equal(ra, rb);
  assert.equal(seen.length, 3);
  assert.equal(rc!.output, '{"uid":7,"gid":8}');
  assert.equal(rd!.output, "null");
  assert.equal(runner.isRunning("h1", "ssh"), false);
});

Deno.test("PluginRunner: runs a real plugin", async () => {
  await using fx = await pluginFixture();
  const runner = new PluginRunner({ concurrency: 2 });
  const results = await Promise.all(
    ["a", "b", "c", "d"].map((host) =>
      runner.run({ host, test: "ok", path: fx.path("check_ok"), timeoutMs: 5000 })
    ),
  );
  assert.deepEqual(results.map((r) => [r.host, r.status, r.output]), [
    ["a", "OK", "all good"],
    ["b", "OK", "all good"],
    ["c", "OK", "all good"],
    ["d", "OK", "all good"],
  ]);
});

Deno.test("PluginRunner: resolves the default user once, retrying after a failure", async () => {
  const asked: string[] = [];
  let fail = true;
  const runner = new PluginRunner({
    concurrency: 1,
    deps: {
      resolveUser: (name) => {
        asked.push(name);
        return fail ? Promise.reject(new Error("no passwd")) : Promise.resolve({ uid: 9, gid: 9 });
      },
    },
    run: async (spec, d) => ({
      ...fakeResult(spec),
      output: JSON.stringify(await d.resolveUser!("nobody")),
    }),
  });
  const base = { host: "h", test: "t", path: "/p", timeoutMs: 1000 };
  await assert.rejects(runner.run(base), /no passwd/);
  fail = false;
  assert.equal((await runner.run(base)).output, '{"uid":9,"gid":9}');
  assert.equal((await runner.run(base)).output, '{"uid":9,"gid":9}');
  assert.deepEqual(asked, ["nobody", "nobody"]);
});
