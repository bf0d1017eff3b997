import assert from "node:assert/strict";
import { capture } from "./capture.ts";

function streamOf(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(c) {
      for (const chunk of chunks) c.enqueue(chunk);
      c.close();
    },
  });
}

Deno.test("capture: keeps the first cap bytes and counts everything", async () => {
  const chunk = new Uint8Array(64 * 1024).fill(0x79);
  chunk[0] = 0x41;
  const chunks = Array.from({ length: 160 }, () => chunk); // 10 MiB
  const got = await capture(streamOf(chunks), 64 * 1024 + 10).done;
  assert.equal(got.total, 160 * 64 * 1024);
  assert.equal(got.bytes.length, 64 * 1024 + 10);
  assert.equal(got.bytes[0], 0x41);
  assert.equal(got.bytes[64 * 1024], 0x41);
  assert.equal(got.bytes.buffer.byteLength, 64 * 1024 + 10);
});

/** A byte stream like a subprocess pipe, so the BYOB path is exercised. */
function byteStreamOf(total: number, chunk: number): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream({
    type: "bytes",
    pull(c) {
      const view = c.byobRequest?.view;
      if (sent >= total) {
        c.close();
        c.byobRequest?.respond(0);
        return;
      }
      const n = Math.min(chunk, total - sent, view?.byteLength ?? chunk);
      if (view) {
        new Uint8Array(view.buffer, view.byteOffset, n).fill(sent === 0 ? 0x42 : 0x7a);
        c.byobRequest!.respond(n);
      } else {
        c.enqueue(new Uint8Array(n).fill(0x7a));
      }
      sent += n;
    },
  });
}

Deno.test("capture: byte streams are read into a reused buffer, still capped", async () => {
  const got = await capture(byteStreamOf(10 * 1024 * 1024, 1 << 20), 64 * 1024).done;
  assert.equal(got.total, 10 * 1024 * 1024);
  assert.equal(got.bytes.length, 64 * 1024);
  assert.equal(got.bytes[0], 0x42);
  assert.equal(got.bytes[64 * 1024 - 1], 0x7a);
});

Deno.test("capture: short streams, empty streams", async () => {
  const enc = new TextEncoder();
  const got = await capture(streamOf([enc.encode("ab"), enc.encode("cd")]), 100).done;
  assert.deepEqual([new TextDecoder().decode(got.bytes), got.total], ["abcd", 4]);
  const empty = await capture(streamOf([]), 100).done;
  assert.deepEqual([empty.bytes.length, empty.total], [0, 0]);
});

Deno.test("capture: cancel ends a stream that never closes, keeping what arrived", async () => {
  const stream = new ReadableStream<Uint8Array>({
    start(c) {
      c.enqueue(new TextEncoder().encode("partial"));
    },
  });
  const cap = capture(stream, 100);
  await cap.cancel();
  const got = await cap.done;
  assert.equal(new TextDecoder().decode(got.bytes), "partial");
});

Deno.test("capture: an erroring stream still yields what came before", async () => {
  let ctl!: ReadableStreamDefaultController<Uint8Array>;
  const stream = new ReadableStream<Uint8Array>({ start: (c) => void (ctl = c) });
  const cap = capture(stream, 100);
  ctl.enqueue(new Uint8Array([1, 2]));
  ctl.error(new Error("pipe broke"));
  assert.deepEqual([...(await cap.done).bytes], [1, 2]);
});
