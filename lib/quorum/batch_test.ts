import assert from "node:assert/strict";
import { FakeClock } from "../clock/mod.ts";
import { BatchQueue, type SendOutcome } from "./batch.ts";

/** A queue whose requests are answered only when the test says so. */
function harness(o: { maxInFlight?: number; maxItems?: number } = {}) {
  const clock = new FakeClock(0);
  const sent: { items: number[]; deadlineMs: number; answer(out: SendOutcome<string>): void }[] =
    [];
  const q = new BatchQueue<number, string>({
    maxInFlight: o.maxInFlight ?? 1,
    maxItems: o.maxItems ?? 100,
    lingerMs: 2,
    clock,
    fail: (i, error) => `${i}:${error}`,
    send: (items, deadlineMs) => new Promise((answer) => sent.push({ items, deadlineMs, answer })),
  });
  return { clock, sent, q };
}

const ok = (items: number[]): SendOutcome<string> => ({
  ok: true,
  results: items.map((i) => `${i}:ok`),
});

Deno.test("batch queue: items pushed together leave in one request, later ones coalesce behind it", async () => {
  const { clock, sent, q } = harness();
  const first = [1, 2, 3].map((i) => q.push(i, 1000));
  await clock.advance(2);
  assert.deepEqual(sent.map((s) => s.items), [[1, 2, 3]]);
  // While that request is in flight, 50 more items wait and then leave as one request.
  const later = Array.from({ length: 50 }, (_, i) => q.push(10 + i, 1000));
  await clock.advance(5);
  assert.equal(sent.length, 1, "one request in flight at most");
  sent[0]!.answer(ok(sent[0]!.items));
  assert.deepEqual(await Promise.all(first), ["1:ok", "2:ok", "3:ok"]);
  await clock.advance(0);
  assert.equal(sent.length, 2);
  assert.equal(sent[1]!.items.length, 50);
  sent[1]!.answer(ok(sent[1]!.items));
  assert.equal((await Promise.all(later)).length, 50);
  assert.deepEqual(q.stats, { requests: 2, items: 53, busy: 0, failed: 0 });
});

Deno.test("batch queue: a request never carries more than maxItems", async () => {
  const { clock, sent, q } = harness({ maxInFlight: 3, maxItems: 4 });
  for (let i = 0; i < 10; i++) q.push(i, 1000);
  await clock.advance(2);
  assert.deepEqual(sent.map((s) => s.items.length), [4, 4, 2]);
});

Deno.test("batch queue: a busy peer's Retry-After pauses the queue; the items are sent again after it", async () => {
  const { clock, sent, q } = harness();
  const p = q.push(7, 5000);
  await clock.advance(2);
  sent[0]!.answer({ ok: false, error: "busy", retryAfterMs: 1000 });
  await clock.advance(999);
  assert.equal(sent.length, 1, "nothing sent before the Retry-After has passed");
  await clock.advance(1);
  assert.equal(sent.length, 2, "sent again once it passed");
  sent[1]!.answer(ok([7]));
  assert.equal(await p, "7:ok");
  assert.equal(q.stats.busy, 1);
});

Deno.test("batch queue: a silent peer costs each item its own deadline, never more", async () => {
  const { clock, sent, q } = harness();
  const a = q.push(1, 1000);
  await clock.advance(500);
  // Queued behind the hanging request: resolves at its own deadline, not after the first one's.
  const b = q.push(2, 300);
  await clock.advance(300);
  assert.equal(await b, "2:no answer within 300 ms");
  await clock.advance(200);
  assert.equal(await a, "1:no answer within 1000 ms");
  assert.equal(sent.length, 1);
});

Deno.test("batch queue: a failed request fails its items at once; close fails what waits", async () => {
  const { clock, sent, q } = harness();
  const a = q.push(1, 1000);
  await clock.advance(2);
  const b = q.push(2, 1000);
  sent[0]!.answer({ ok: false, error: "connection refused" });
  assert.equal(await a, "1:connection refused");
  q.close();
  assert.equal(await b, "2:shutting down");
  assert.equal(await q.push(3, 1000), "3:shutting down");
});

Deno.test("batch queue: with settleChunk, a reply's items are settled a chunk per turn", async () => {
  const clock = new FakeClock(0);
  let answer: (out: SendOutcome<string>) => void = () => {};
  const turns: number[] = [];
  let settled = 0;
  const q = new BatchQueue<number, string>({
    maxInFlight: 1,
    maxItems: 100,
    lingerMs: 0,
    clock,
    fail: (i, error) => `${i}:${error}`,
    send: () => new Promise((a) => (answer = a)),
    settleChunk: {
      items: 10,
      between: async () => {
        await new Promise((r) => setTimeout(r, 0));
        turns.push(settled);
      },
    },
  });
  const all = Array.from({ length: 35 }, (_, i) => q.push(i, 1000).then(() => settled++));
  await clock.advance(0);
  answer(ok(Array.from({ length: 35 }, (_, i) => i)));
  await Promise.all(all);
  // Each turn comes after the rounds of the chunks settled so far, before the next chunk.
  assert.deepEqual(turns, [10, 20, 30]);
});
