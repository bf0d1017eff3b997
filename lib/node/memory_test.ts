import assert from "node:assert/strict";
import { memoryLogger } from "../log/mod.ts";
import { keepTrimmed, releaseAfterStart } from "./memory.ts";

Deno.test("releaseAfterStart: one release after the wait, logged; none once the node stops", async () => {
  const log = memoryLogger();
  const ctl = new AbortController();
  releaseAfterStart("start", log, ctl.signal, 0);
  const stopped = new AbortController();
  releaseAfterStart("reload", log, stopped.signal, 0);
  stopped.abort();
  // Timers of equal delay fire in the order they were set: this one after both of the above.
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(log.lines.length, 1, log.lines.join("\n"));
  assert.match(log.lines[0]!, /memory returned after start .*rss_mb=\d+->\d+/);
});

Deno.test("keepTrimmed: trims on its interval until the node stops", async () => {
  const ctl = new AbortController();
  const runs = keepTrimmed(memoryLogger(), ctl.signal, 1);
  await until(() => runs() >= 2);
  ctl.abort();
  const at = runs();
  // Several of its 1 ms periods later, the cleared interval has not fired again.
  await new Promise((r) => setTimeout(r, 5));
  assert.equal(runs(), at);
});

async function until(ok: () => boolean): Promise<void> {
  while (!ok()) await new Promise((r) => setTimeout(r, 1));
}
