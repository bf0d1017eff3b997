// Our client against our server, in every mode.
import assert from "node:assert/strict";
import tls from "node:tls";
import { PeerError, ProtocolError } from "../errors/mod.ts";
import { TentacleClient, type TentacleClientOptions } from "./client.ts";
import type { TentacleServerOptions } from "./server.ts";
import { ls, randomBytes, sha256, startTestServer, tempDir, text, tlsFile } from "./testing.ts";

const MUTUAL_SERVER: Partial<TentacleServerOptions> = {
  tls: {
    certFile: tlsFile("server.crt"),
    keyFile: tlsFile("server.key"),
    caFile: tlsFile("ca.crt"),
  },
};
const MUTUAL_CLIENT: TentacleClientOptions = {
  tls: {
    certFile: tlsFile("client.crt"),
    keyFile: tlsFile("client.key"),
    caFile: tlsFile("ca.crt"),
  },
};

const MODES: [string, Partial<TentacleServerOptions>, TentacleClientOptions][] = [
  ["plain", {}, {}],
  ["password", { password: "s3cret" }, { password: "s3cret" }],
  ["TLS without certificates (-c)", {
    tls: { certFile: tlsFile("server.crt"), keyFile: tlsFile("server.key") },
  }, {
    tls: true,
  }],
  ["mutual TLS (-e -k -f)", MUTUAL_SERVER, MUTUAL_CLIENT],
  ["mutual TLS and password", { ...MUTUAL_SERVER, password: "pw" }, {
    ...MUTUAL_CLIENT,
    password: "pw",
  }],
];

for (const [mode, serverOpts, clientOpts] of MODES) {
  Deno.test(`client <-> server, ${mode}: send, zsend, recv, zrecv, ls, mv, smv`, async () => {
    await using s = await startTestServer({ insecure: true, ...serverOpts });
    await using local = await tempDir();
    const data = randomBytes(100_000);
    await Deno.writeFile(`${local.path}/src.bin`, data);
    const c = await TentacleClient.connect({ port: s.port, ...clientOpts });
    try {
      assert.ok(c.safeMove);
      await c.send("a.data", `${local.path}/src.bin`);
      await c.send("b.data", data, { compress: true });
      await c.send("c.data", text("small"));
      assert.deepEqual(await c.ls(), ["a.data", "b.data", "c.data"]);
      assert.deepEqual(await c.recv("a.data", `${local.path}/a`), { size: data.length });
      assert.deepEqual(await Deno.readFile(`${local.path}/a`), data);
      assert.deepEqual(await c.recv("b.data", `${local.path}/b`, { compress: true }), {
        size: data.length,
      });
      assert.deepEqual(await Deno.readFile(`${local.path}/b`), data);
      const moved = await c.mv("c.data", `${local.path}/c`);
      assert.deepEqual(moved, {
        name: "c.data",
        size: 5,
        sha256: await sha256(text("small")),
        confirmed: true,
      });
      const plain = await c.mv("b.data", `${local.path}/b2`, { safe: false });
      assert.equal(plain.confirmed, false);
      assert.deepEqual(await Deno.readFile(`${local.path}/b2`), data);
      assert.deepEqual(await c.ls(), ["a.data"]);
      assert.deepEqual(await ls(local.path), ["a", "b", "b2", "c", "src.bin"]); // no temporaries left
    } finally {
      await c.quit();
    }
  });
}

Deno.test("client: refusals are ProtocolErrors carrying the reply; the session goes on", async () => {
  await using s = await startTestServer({ insecure: true, maxSize: 10 });
  await using local = await tempDir();
  await using c = await TentacleClient.connect({ port: s.port });
  await assert.rejects(
    c.send("big", new Uint8Array(11)),
    (e: ProtocolError) =>
      e instanceof ProtocolError && e.reply === "SEND ERR (file is too big)" &&
      e.message === "Server responded SEND ERR (file is too big).",
  );
  await assert.rejects(c.send("../x", text("x")), /invalid file name/);
  await assert.rejects(c.recv("missing", `${local.path}/m`), /RECV ERR \(file does not exist\)/);
  await assert.rejects(c.recv("missing", `${local.path}/m`, { compress: true }), /ZRECV ERR/);
  await assert.rejects(c.mv("missing", `${local.path}/m`), /SMV ERR/);
  await assert.rejects(c.mv("missing", `${local.path}/m`, { safe: false }), /MV ERR/);
  await c.send("ok", text("fine"));
  await assert.rejects(c.send("ok", text("again")), /file already exists/);
  assert.deepEqual(await ls(local.path), []);
});

Deno.test("client: wrong password, closed port, unreachable peer", async () => {
  await using s = await startTestServer({ password: "right" });
  await assert.rejects(
    TentacleClient.connect({ port: s.port, password: "wrong" }),
    /Authentication failed/,
  );
  await assert.rejects(
    TentacleClient.connect({ port: s.port }),
    (e: Error) => e instanceof PeerError || e instanceof ProtocolError,
  );
  const closed = s.port;
  await s.server.close();
  await assert.rejects(TentacleClient.connect({ port: closed, idleTimeoutMs: 500 }), PeerError);
});

Deno.test("client: a server that never answers is cut by the idle timeout, plain and TLS", async () => {
  const plain = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of plain) held.push(conn);
  })();
  const tlsServer = tls.createServer({
    cert: await Deno.readTextFile(tlsFile("server.crt")),
    key: await Deno.readTextFile(tlsFile("server.key")),
  }, (socket) => held.push({ close: () => socket.destroy() } as unknown as Deno.Conn));
  await new Promise<void>((r) => tlsServer.listen(0, "127.0.0.1", () => r()));
  try {
    const port = (plain.addr as Deno.NetAddr).port;
    await assert.rejects(
      TentacleClient.connect({ port, idleTimeoutMs: 300 }),
      (e: Error) => e instanceof PeerError && /timed out after 300 ms/.test(e.message),
    );
    const tlsPort = (tlsServer.address() as { port: number }).port;
    await assert.rejects(
      TentacleClient.connect({
        port: tlsPort,
        idleTimeoutMs: 300,
        tls: { caFile: tlsFile("ca.crt"), servername: "localhost" },
      }),
      (e: Error) => e instanceof PeerError && /timed out after 300 ms/.test(e.message),
    );
  } finally {
    plain.close();
    await accepting.catch(() => {});
    for (const c of held) c.close();
    await new Promise((r) => tlsServer.close(r));
  }
});

Deno.test("client: against a server without extensions, mv falls back to plain MV", async () => {
  await using s = await startTestServer({ insecure: true, extensions: false });
  await using local = await tempDir();
  await Deno.writeTextFile(`${s.dir}/x.data`, "payload");
  await using c = await TentacleClient.connect({ port: s.port });
  assert.equal(c.safeMove, false);
  assert.deepEqual(await c.mv("x.data", `${local.path}/x`), {
    name: "x.data",
    size: 7,
    sha256: await sha256(text("payload")),
    confirmed: false,
  });
  assert.deepEqual(await ls(s.dir), []);
});

Deno.test("client: a busy server is reported as such", async () => {
  await using s = await startTestServer({ maxConnections: 1 });
  await using first = await TentacleClient.connect({ port: s.port });
  await using second = await TentacleClient.connect({ port: s.port, probe: false });
  await assert.rejects(
    second.send("a", text("x")),
    /SEND ERR \(server busy\)\. \(busy; retry later\)/,
  );
  assert.ok(first.features.size >= 0);
});

Deno.test("client: a connection broken mid-body leaves no partial file", async () => {
  await using s = await startTestServer({ insecure: true });
  await using local = await tempDir();
  await Deno.writeFile(`${s.dir}/big.data`, new Uint8Array(4 * 1024 * 1024));
  const c = await TentacleClient.connect({ port: s.port, idleTimeoutMs: 1000 });
  const p = c.recv("big.data", `${local.path}/big`);
  setTimeout(() => s.server.close(), 0);
  await p.then(() => {}, () => {}); // either finished before the close, or failed cleanly
  const left = await ls(local.path);
  assert.ok(
    left.length === 0 ||
      (left[0] === "big" && (await Deno.stat(`${local.path}/big`)).size === 4 * 1024 * 1024),
  );
  c.close();
});

Deno.test("client mvMany: pipelined safe batches; refusals are reported, the rest go on", async () => {
  await using s = await startTestServer({ insecure: true });
  await using local = await tempDir();
  const names = Array.from({ length: 150 }, (_, i) => `f${String(i).padStart(3, "0")}.data`);
  for (const n of names) await Deno.writeTextFile(`${s.dir}/${n}`, `content of ${n}`);
  await using c = await TentacleClient.connect({ port: s.port });
  const items = [...names, "missing.data", "../bad"].map((n) => ({
    name: n,
    dest: `${local.path}/${n.replace("/", "_")}`,
  }));
  const { moved, failed } = await c.mvMany(items, { batch: 64 });
  assert.equal(moved.length, 150);
  assert.ok(moved.every((m) => m.confirmed));
  assert.deepEqual(failed.map((f) => [f.name, (f.error as ProtocolError).reply]), [
    ["missing.data", "SMV ERR"],
    ["../bad", "SMV ERR"],
  ]);
  assert.deepEqual(await ls(s.dir), []);
  assert.deepEqual(await ls(local.path), names);
  assert.equal(await Deno.readTextFile(`${local.path}/f149.data`), "content of f149.data");
  // The session is still in step afterwards.
  await c.send("after.data", text("ok"));
  assert.deepEqual(await c.ls(), ["after.data"]);
});

Deno.test("client mvMany: plain MV batches against a server without extensions", async () => {
  await using s = await startTestServer({ insecure: true, extensions: false });
  await using local = await tempDir();
  for (const n of ["a", "b", "c"]) await Deno.writeTextFile(`${s.dir}/${n}`, n);
  await using c = await TentacleClient.connect({ port: s.port });
  const { moved, failed } = await c.mvMany(
    ["a", "x", "b", "c"].map((n) => ({ name: n, dest: `${local.path}/${n}` })),
    {
      batch: 2,
    },
  );
  assert.deepEqual(moved.map((m) => [m.name, m.confirmed]), [["a", false], ["b", false], [
    "c",
    false,
  ]]);
  assert.deepEqual(failed.map((f) => f.name), ["x"]);
  assert.deepEqual(await ls(local.path), ["a", "b", "c"]);
  assert.deepEqual(await ls(s.dir), []);
});

Deno.test("client mvMany: a connection lost mid-batch keeps the server's files and ours", async () => {
  await using s = await startTestServer({ insecure: true, idleTimeoutMs: 1000 });
  await using local = await tempDir();
  await Deno.writeTextFile(`${s.dir}/small.data`, "small");
  await Deno.writeFile(`${s.dir}/zbig.data`, new Uint8Array(16 * 1024 * 1024));
  const c = await TentacleClient.connect({ port: s.port });
  const run = c.mvMany(
    ["small.data", "zbig.data"].map((n) => ({ name: n, dest: `${local.path}/${n}` })),
  );
  setTimeout(() => s.server.close(), 30);
  await assert.rejects(run);
  // Nothing was confirmed, so nothing was deleted; what arrived whole is stored here.
  assert.deepEqual(await ls(s.dir), ["small.data", "zbig.data"]);
  const here = await ls(local.path);
  assert.ok(here.every((n) => !n.startsWith(".dmonitor")), here.join());
  c.close();
});
