import assert from "node:assert/strict";
import { deadline } from "./mod.ts";

Deno.test("deadline: aborts with a TimeoutError when the time is up", async () => {
  using d = deadline(5);
  await new Promise((r) => d.signal.addEventListener("abort", r, { once: true }));
  assert.equal(d.expired, true);
  assert.equal((d.signal.reason as DOMException).name, "TimeoutError");
});

Deno.test("deadline: aborts with the parent's reason, and not expired", () => {
  const stop = new AbortController();
  using d = deadline(60_000, stop.signal);
  stop.abort(new Error("shutting down"));
  assert.equal(d.signal.aborted, true);
  assert.equal(d.expired, false);
  assert.equal((d.signal.reason as Error).message, "shutting down");
});

Deno.test("deadline: an aborted parent aborts it at once", () => {
  const stop = new AbortController();
  stop.abort("gone");
  using d = deadline(60_000, stop.signal);
  assert.equal(d.signal.aborted, true);
  assert.equal(d.signal.reason, "gone");
});

Deno.test("deadline: once disposed, neither the time nor the parent aborts it", async () => {
  const stop = new AbortController();
  const d = deadline(5, stop.signal);
  d[Symbol.dispose]();
  await new Promise((r) => setTimeout(r, 20));
  stop.abort();
  assert.equal(d.signal.aborted, false);
  assert.equal(d.expired, false);
});

Deno.test("deadline: disposed ones are collected while their parent lives on", async () => {
  // What AbortSignal.timeout(120_000) with AbortSignal.any([stop, ...]) did not do: each signal
  // stayed reachable from its pending timer for the whole timeout.
  const stop = new AbortController();
  const refs: WeakRef<AbortSignal>[] = [];
  const operations = () => {
    for (let i = 0; i < 1000; i++) {
      using d = deadline(120_000, stop.signal);
      refs.push(new WeakRef(d.signal));
    }
  };
  operations();
  // A WeakRef's target lives until the current job ends; then a full GC.
  await new Promise((r) => setTimeout(r, 0));
  await new Promise((r) => setTimeout(r, 0));
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) gc();
  else {
    const { default: v8 } = await import("node:v8");
    v8.setFlagsFromString("--expose-gc");
    const { default: vm } = await import("node:vm");
    (vm.runInNewContext("gc") as () => void)();
  }
  assert.equal(refs.filter((r) => r.deref() !== undefined).length, 0);
});
