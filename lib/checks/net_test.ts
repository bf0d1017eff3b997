import assert from "node:assert/strict";
import { type ByteSource, LineReader } from "./net.ts";

/** A byte source that hands out the given chunks one read at a time. */
function chunks(...parts: string[]): ByteSource {
  const enc = new TextEncoder();
  const queue = parts.map((p) => enc.encode(p));
  return {
    read(p: Uint8Array) {
      const next = queue.shift();
      if (!next) return Promise.resolve(null);
      p.set(next);
      return Promise.resolve(next.length);
    },
  };
}

async function lines(r: LineReader): Promise<(string | null)[]> {
  const out: (string | null)[] = [];
  for (let l = await r.readLine();; l = await r.readLine()) {
    out.push(l);
    if (l === null) return out;
  }
}

Deno.test("LineReader: splits CRLF and LF lines across chunk boundaries", async () => {
  const r = new LineReader(chunks("220-first\r", "\n220 sec", "ond\nlast-no-newline"));
  assert.deepEqual(await lines(r), ["220-first", "220 second", "last-no-newline", null]);
});

Deno.test("LineReader: an empty stream yields null, an empty line yields ''", async () => {
  assert.deepEqual(await lines(new LineReader(chunks())), [null]);
  assert.deepEqual(await lines(new LineReader(chunks("\r\n"))), ["", null]);
});

Deno.test("LineReader: a line longer than maxLine comes back in maxLine pieces", async () => {
  const r = new LineReader(chunks("abcdefghij", "klmn\nz\n"), 4);
  assert.deepEqual(await lines(r), ["abcd", "efgh", "ijkl", "mn", "z", null]);
});
