import assert from "node:assert/strict";
import { connectionCaps, parseOpenFileLimit, serveListener } from "./listener.ts";
import { memoryLogger } from "../log/mod.ts";

Deno.test("the connection caps follow the open-file limit", () => {
  const limits = "Limit                     Soft Limit           Hard Limit           Units\n" +
    "Max open files            1024                 524288               files\n";
  assert.equal(parseOpenFileLimit(limits), 1024);
  assert.equal(
    parseOpenFileLimit("Max open files  unlimited  unlimited  files\n"),
    Number.MAX_SAFE_INTEGER,
  );
  assert.equal(parseOpenFileLimit("garbage"), null);
  assert.deepEqual(connectionCaps(1024), { total: 512, perAddress: 128 });
  assert.deepEqual(connectionCaps(20), { total: 16, perAddress: 4 });
  assert.deepEqual(connectionCaps(1_000_000), { total: 4096, perAddress: 1024 });
  assert.deepEqual(connectionCaps(null), { total: 512, perAddress: 128 });
});

Deno.test("at the cap the oldest idle connection makes room; idle ones meet the header deadline", async () => {
  const log = memoryLogger();
  const served = serveListener(
    Deno.listen({ hostname: "127.0.30.4", port: 0 }),
    () => new Response("ok"),
    {
      headersTimeoutMs: 1500,
      idleTimeoutMs: 1500,
      requestTimeoutMs: 5000,
      maxConnections: 4,
      maxConnectionsPerAddress: 3,
    },
    log,
  );
  const { hostname, port } = served.addr;
  try {
    const conns = [];
    for (let i = 0; i < 6; i++) conns.push(await Deno.connect({ hostname, port }));
    // Six idle connections from one address, at most three kept: the oldest were closed.
    const first = await conns[0]!.read(new Uint8Array(1));
    assert.equal(first, null, "the oldest idle connection was closed to make room");
    assert.ok(served.connections() <= 3);
    // A real request still gets through, and keep-alive works.
    const res = await fetch(`http://${hostname}:${port}/`);
    assert.equal(await res.text(), "ok");
    // The rest meet the header deadline (bounded wait).
    const last = await Promise.race([
      conns[5]!.read(new Uint8Array(1)),
      new Promise((r) => setTimeout(() => r("still open"), 10_000)),
    ]);
    assert.equal(last, null, "an idle connection is closed by the header deadline");
    for (const c of conns) {
      try {
        c.close();
      } catch { /* closed */ }
    }
  } finally {
    await served.close(100);
  }
  assert.equal(served.connections(), 0);
});
