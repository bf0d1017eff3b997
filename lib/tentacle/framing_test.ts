import assert from "node:assert/strict";
import {
  encodeLine,
  FrameReader,
  LineTooLongError,
  memorySink,
  memorySource,
  UnexpectedEofError,
} from "./framing.ts";

const dec = new TextDecoder();
const reader = (chunks: (string | Uint8Array)[], maxLine?: number) =>
  new FrameReader(memorySource(chunks), { maxLine });

Deno.test("readLine: lines split anywhere across chunks", async () => {
  const r = reader(["SE", "ND <a> SI", "ZE 3\nQU", "IT", "\n"]);
  assert.equal(await r.readLine(), "SEND <a> SIZE 3");
  assert.equal(await r.readLine(), "QUIT");
  assert.equal(await r.readLine(), null);
  assert.equal(await r.readLine(), null);
});

Deno.test("readLine: a trailing \\r is dropped (lenient), only one", async () => {
  const r = reader(["QUIT\r\n", "QUIT\r\r\n", "\n"]);
  assert.equal(await r.readLine(), "QUIT");
  assert.equal(await r.readLine(), "QUIT\r");
  assert.equal(await r.readLine(), "");
});

Deno.test("readLine: over-long lines fail without buffering them", async () => {
  await assert.rejects(reader(["x".repeat(1025) + "\n"]).readLine(), LineTooLongError);
  await assert.rejects(reader(["x".repeat(600), "x".repeat(600)]).readLine(), LineTooLongError);
  assert.equal(await reader(["x".repeat(1024) + "\n"]).readLine(), "x".repeat(1024));
  await assert.rejects(reader(["abcdef\n"], 5).readLine(), LineTooLongError);
  // An endless line without newline is refused after maxLine bytes, not read forever.
  let served = 0;
  const endless = new FrameReader({
    read: () => {
      served++;
      return Promise.resolve(new Uint8Array(100).fill(0x41));
    },
  });
  await assert.rejects(endless.readLine(), LineTooLongError);
  assert.ok(served <= 11, `read ${served} chunks`);
});

Deno.test("readLine: end of stream inside a line is an error", async () => {
  await assert.rejects(reader(["QUI"]).readLine(), UnexpectedEofError);
});

Deno.test("readLine: invalid UTF-8 decodes to U+FFFD (which names refuse)", async () => {
  const r = reader([new Uint8Array([0x53, 0xff, 0x0a])]);
  assert.equal(await r.readLine(), "S\ufffd");
});

Deno.test("readBody: exactly n bytes, then the next line (pipelined input)", async () => {
  const r = reader(["SEND <a> SIZE 5\nhel", "lo", "QUIT\n"]);
  assert.equal(await r.readLine(), "SEND <a> SIZE 5");
  const parts: string[] = [];
  for await (const p of r.readBody(5)) parts.push(dec.decode(p));
  assert.equal(parts.join(""), "hello");
  assert.equal(await r.readLine(), "QUIT");
});

Deno.test("readBody: whole body and more in one chunk", async () => {
  const r = reader(["LINE\nabcdefLINE2\n"]);
  assert.equal(await r.readLine(), "LINE");
  assert.equal(dec.decode(await r.readExactly(6)), "abcdef");
  assert.equal(r.buffered, 6);
  assert.equal(await r.readLine(), "LINE2");
});

Deno.test("readBody: zero bytes reads nothing", async () => {
  const r = reader(["QUIT\n"]);
  assert.equal((await r.readExactly(0)).length, 0);
  assert.equal(await r.readLine(), "QUIT");
});

Deno.test("readBody: early end of stream is an error naming the count", async () => {
  await assert.rejects(reader(["abc"]).readExactly(5), /after 3 of 5 body bytes/);
});

Deno.test("binary bodies pass through untouched", async () => {
  const body = new Uint8Array(256).map((_, i) => i);
  const r = reader([encodeLine("X"), body.subarray(0, 10), body.subarray(10), "Y\n"]);
  assert.equal(await r.readLine(), "X");
  assert.deepEqual(await r.readExactly(256), body);
  assert.equal(await r.readLine(), "Y");
});

Deno.test("memorySink collects writes; encodeLine adds one \\n", async () => {
  const s = memorySink();
  await s.write(encodeLine("SEND OK"));
  await s.write(encodeLine("PASS OK"));
  assert.equal(s.text(), "SEND OK\nPASS OK\n");
});
