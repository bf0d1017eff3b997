import assert from "node:assert/strict";
import { ConfigError, PeerError } from "../errors/mod.ts";
import type { Peer } from "../config/types.ts";
import { askPeers, createPeerHttpClient } from "./client.ts";
import { checkPeerKeyRequirement, startPeerServer } from "./server.ts";
import { KEY, signedInit, testApp } from "./testing.ts";

const peer = (port: number): Peer => ({
  host: "127.0.0.1",
  port,
  raw: `127.0.0.1:${port}`,
  line: 1,
  name: "node-b",
});

Deno.test("checkPeerKeyRequirement: peers need a key, single-node mode does not", () => {
  const p = peer(2929);
  checkPeerKeyRequirement({ peers: [], peerKey: null });
  checkPeerKeyRequirement({ peers: [p], peerKey: "k".repeat(32) });
  const problem = (cfg: Parameters<typeof checkPeerKeyRequirement>[0]) => {
    try {
      checkPeerKeyRequirement(cfg);
    } catch (e) {
      assert.ok(e instanceof ConfigError);
      assert.equal(e.problems[0]!.file, "peer.key");
      return e.message;
    }
    return "no error";
  };
  assert.equal(
    problem({ peers: [p, p], peerKey: null }),
    "peer.key: is missing but nodes.txt lists 2 peers; create it with 'dmonitor init' or write the same secret on every node",
  );
  assert.equal(
    problem({ peers: [p], peerKey: "short" }),
    "peer.key: must hold at least 32 characters, got 5",
  );
});

Deno.test("server: over a real socket, forged, unsigned, replayed and stale requests are rejected", async () => {
  const { app, log } = testApp({ clock: Date.now });
  await using server = startPeerServer({ hostname: "127.0.0.1", port: 0, app });
  const url = `${server.url}/v1/confirm`;
  const target = { host: "www", test: "http" };
  const health = await fetch(`${server.url}/healthz`);
  assert.equal(await health.text(), "ok");
  const good = await signedInit("POST", "/v1/confirm", target, { now: Date.now() });
  const first = await fetch(url, good);
  assert.equal(first.status, 200);
  await first.body?.cancel();
  const cases: [string, RequestInit][] = [
    ["unsigned", { method: "POST", body: JSON.stringify(target) }],
    [
      "forged",
      await signedInit("POST", "/v1/confirm", target, {
        now: Date.now(),
        key: "guessed-key-guessed-key",
      }),
    ],
    ["replayed", good],
    ["stale", await signedInit("POST", "/v1/confirm", target, { now: Date.now() - 120_000 })],
  ];
  for (const [reason, init] of cases) {
    const res = await fetch(url, init);
    assert.equal(res.status, 401, reason);
    assert.deepEqual(await res.json(), { error: "unauthorized" });
    assert.ok(
      log.lines.some((l) => l.includes(`reason=${reason}`) && l.includes("remote=127.0.0.1")),
      `log names ${reason} and the remote address`,
    );
  }
});

Deno.test("server: a port already in use is a PeerError naming the address", () => {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const { app } = testApp();
    assert.throws(
      () => startPeerServer({ hostname: "127.0.0.1", port: l.addr.port, app }),
      (e: unknown) =>
        e instanceof PeerError &&
        e.message.startsWith(`Cannot listen on 127.0.0.1:${l.addr.port} for peers:`),
    );
  } finally {
    l.close();
  }
});

/** A throwaway CA and a certificate for 127.0.0.1, made with openssl. */
async function makeTls(dir: string): Promise<{ ca: string; cert: string; key: string }> {
  const run = async (...args: string[]) => {
    const out = await new Deno.Command("openssl", {
      args,
      cwd: dir,
      stdout: "null",
      stderr: "piped",
    }).output();
    if (!out.success) {
      throw new Error(`openssl ${args[0]}: ${new TextDecoder().decode(out.stderr)}`);
    }
  };
  await run(
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-keyout",
    "ca.key",
    "-out",
    "ca.pem",
    "-days",
    "1",
    "-subj",
    "/CN=dmonitor test CA",
  );
  await run(
    "req",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-keyout",
    "node.key",
    "-out",
    "node.csr",
    "-subj",
    "/CN=127.0.0.1",
  );
  await Deno.writeTextFile(`${dir}/ext.cnf`, "subjectAltName=IP:127.0.0.1\n");
  await run(
    "x509",
    "-req",
    "-in",
    "node.csr",
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    "node.pem",
    "-days",
    "1",
    "-extfile",
    "ext.cnf",
  );
  const read = (f: string) => Deno.readTextFile(`${dir}/${f}`);
  return { ca: await read("ca.pem"), cert: await read("node.pem"), key: await read("node.key") };
}

const hasOpenssl = (() => {
  try {
    return new Deno.Command("openssl", { args: ["version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
})();

Deno.test({
  name: "server: TLS with a private CA; a client that does not trust it gets nothing",
  ignore: !hasOpenssl,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const tls = await makeTls(dir);
      const { app } = testApp({ clock: Date.now });
      await using server = startPeerServer({
        hostname: "127.0.0.1",
        port: 0,
        app,
        tls: { cert: tls.cert, key: tls.key },
      });
      assert.ok(server.url.startsWith("https://127.0.0.1:"));
      const client = createPeerHttpClient([tls.ca]);
      try {
        const opts = { key: KEY, nodeName: "node-a", deadlineMs: 2000, tls: true, client };
        const [ok] = await askPeers([peer(server.addr.port)], { host: "www", test: "http" }, opts);
        assert.equal(ok!.vote.status, "FAIL", ok!.error);
        const [untrusted] = await askPeers(
          [peer(server.addr.port)],
          { host: "www", test: "http" },
          { ...opts, client: undefined },
        );
        assert.equal(untrusted!.vote.status, "UNREACHABLE");
        assert.match(untrusted!.error!, /certificate|UnknownIssuer|invalid peer/i);
      } finally {
        client.close();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("server: a client that never finishes its body is cut off; peers are still served", async () => {
  const { app } = testApp({ clock: Date.now, requestDeadlineMs: 300 });
  await using server = startPeerServer({ hostname: "127.0.0.1", port: 0, app });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
  try {
    await conn.write(
      new TextEncoder().encode(
        "POST /v1/confirm HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\n{",
      ),
    );
    const ok = await fetch(
      `${server.url}/v1/confirm`,
      await signedInit("POST", "/v1/confirm", { host: "www", test: "http" }, { now: Date.now() }),
    );
    assert.equal(ok.status, 200);
    await ok.body?.cancel();
    const t0 = performance.now();
    const buf = new Uint8Array(1024);
    const n = await conn.read(buf);
    assert.ok(performance.now() - t0 < 2000);
    assert.match(new TextDecoder().decode(buf.subarray(0, n ?? 0)), /^HTTP\/1\.1 503/);
  } finally {
    conn.close();
  }
});
