import assert from "node:assert/strict";
import { firstTakenIn } from "./acks.ts";

/** A push that resolves (or rejects) when told to, recording whether it is still pending. */
function pending() {
  let settle!: (v: string | null) => void, fail!: (e: Error) => void;
  const p = new Promise<string | null>((res, rej) => {
    settle = res;
    fail = rej;
  });
  return { p, settle, fail };
}

Deno.test("firstTakenIn: resolves on the first peer that took it in, not the slowest", async () => {
  const slow = pending(), fast = pending();
  let done = false;
  const all = firstTakenIn([slow.p, fast.p]).then(() => done = true);
  await Promise.resolve();
  assert.equal(done, false);
  fast.settle(null);
  await all;
  assert.equal(done, true, "the hanging peer is not waited for");
  slow.settle("deadline exceeded");
});

Deno.test("firstTakenIn: when nobody takes it in, resolves once every push has failed", async () => {
  const a = pending(), b = pending();
  let done = false;
  const all = firstTakenIn([a.p, b.p]).then(() => done = true);
  a.settle("connection refused");
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(done, false, "one failure is not the end: the other may still take it in");
  b.fail(new Error("boom"));
  await all;
  assert.equal(done, true);
  await firstTakenIn([]);
});
