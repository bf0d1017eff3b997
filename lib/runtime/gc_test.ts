import assert from "node:assert/strict";
import { fullGc, loadFullGc } from "./mod.ts";

Deno.test("fullGc: V8's gc, looked up once, frees what is unreachable", async () => {
  const gc = await loadFullGc();
  assert.equal(typeof gc, "function");
  assert.equal(fullGc(), gc);
  assert.equal(await loadFullGc(), gc);
  let big: Uint8Array | null = new Uint8Array(16 * 1024 * 1024);
  const ref = new WeakRef(big);
  big = null;
  // A WeakRef's target lives until the current job ends.
  await new Promise((r) => setTimeout(r, 0));
  gc!();
  assert.ok(ref.deref() === undefined, "the unreachable buffer was collected");
});
