/**
 * The batched peer protocol over real loopback listeners: many host/test pairs per request, and a
 * busy peer's Retry-After honoured instead of answered with more requests.
 */
import assert from "node:assert/strict";
import { Hono } from "hono";
import { memoryLogger } from "../log/mod.ts";
import type { LocalAnswer } from "../quorum/types.ts";
import { createPeerApp, type PeerAppDeps } from "./app.ts";
import { createPeerRpc } from "./rpc.ts";
import { startPeerServer } from "./server.ts";
import { KEY } from "./testing.ts";

/** A peer on 127.0.90.`n` that fails every test, counting the requests it receives by path. */
function peerNode(n: number, name: string, o: Partial<PeerAppDeps> = {}) {
  const requests: { path: string; at: number; status?: number }[] = [];
  const confirmed: { host: string; maxAgeMs: number | undefined }[] = [];
  const answer = (): LocalAnswer => ({
    status: "FAIL",
    output: "refused",
    at: Date.now(),
    incident: null,
  });
  const app = createPeerApp({
    nodeName: name,
    key: KEY,
    peers: () => ["a"],
    log: memoryLogger(),
    confirm: (host, _t, _s, maxAgeMs) => {
      confirmed.push({ host, maxAgeMs });
      return Promise.resolve(answer());
    },
    view: () => answer(),
    hear: () => Promise.resolve(true),
    state: () => ({}),
    ...o,
  });
  const root = new Hono();
  root.use("*", async (c, next) => {
    const r = { path: c.req.path, at: Date.now() } as (typeof requests)[number];
    requests.push(r);
    await next();
    r.status = c.res.status;
  });
  root.route("/", app as unknown as Hono);
  const server = startPeerServer({ hostname: `127.0.90.${n}`, port: 0, app: root });
  return {
    requests,
    confirmed,
    peer: { host: `127.0.90.${n}`, port: server.addr.port, raw: name, line: 1, name },
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

Deno.test("rpc: 600 host/test pairs asked at once cost a handful of batch requests per peer", async () => {
  await using b = peerNode(1, "b");
  await using c = peerNode(2, "c");
  const rpc = createPeerRpc([b.peer, c.peer], {
    key: KEY,
    nodeName: "a",
    confirmDeadlineMs: 10_000,
    viewDeadlineMs: 10_000,
    log: memoryLogger(),
  });
  try {
    const hosts = Array.from({ length: 600 }, (_, i) => `h${i}.example.com`);
    const since = Date.now() - 1500;
    const confirms = await Promise.all(hosts.map((h) => rpc.ask(h, "tcp", "confirm", since)));
    const views = await Promise.all(hosts.map((h) => rpc.ask(h, "tcp", "view")));
    await Promise.all(hosts.map((h) =>
      rpc.announce(h, "tcp", {
        host: h,
        test: "tcp",
        phase: "down",
        claim: null,
        incident: null,
        closed: null,
      })
    ));
    for (const answers of [...confirms, ...views]) {
      assert.deepEqual(answers.map((a) => `${a.node} ${a.vote.status}`), ["b FAIL", "c FAIL"]);
    }
    for (const p of [b, c]) {
      const by = (path: string) => p.requests.filter((r) => r.path === path).length;
      // 600 pairs in bodies capped at 12 kB: about 5 requests each; one per pair before.
      assert.ok(by("/v1/batch/confirm") <= 10, `confirm requests: ${by("/v1/batch/confirm")}`);
      assert.ok(by("/v1/batch/view") <= 10, `view requests: ${by("/v1/batch/view")}`);
      assert.ok(by("/v1/batch/incident") <= 30, `announce requests: ${by("/v1/batch/incident")}`);
      assert.equal(
        p.requests.length,
        by("/v1/batch/confirm") + by("/v1/batch/view") + by("/v1/batch/incident"),
      );
      // The asker's failure was 1.5 s old when sent: no older result may answer it.
      assert.equal(p.confirmed.length, 600);
      assert.ok(p.confirmed.every((x) => x.maxAgeMs! >= 1500 && x.maxAgeMs! < 60_000));
    }
  } finally {
    rpc.close();
  }
});

Deno.test("rpc: a busy peer answers 503 with Retry-After; the client waits it out, then gets its answers", async () => {
  // At most 10 pairs being confirmed at once: a second batch arriving meanwhile is refused.
  let release = () => {};
  const gate = new Promise<void>((r) => (release = r));
  await using b = peerNode(3, "b", {
    maxPendingConfirms: 10,
    confirm: async () => {
      await gate;
      return { status: "FAIL", output: "refused", at: Date.now(), incident: null };
    },
  });
  const rpc = createPeerRpc([b.peer], {
    key: KEY,
    nodeName: "a",
    confirmDeadlineMs: 20_000,
    viewDeadlineMs: 5000,
    log: memoryLogger(),
    lingerMs: 0,
  });
  try {
    const first = Promise.all(
      Array.from({ length: 8 }, (_, i) => rpc.ask(`x${i}`, "tcp", "confirm")),
    );
    while (b.requests.length < 1) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 50));
    const second = Promise.all(
      Array.from({ length: 8 }, (_, i) => rpc.ask(`y${i}`, "tcp", "confirm")),
    );
    while (!b.requests.some((r) => r.status === 503)) await new Promise((r) => setTimeout(r, 10));
    release();
    const answers = [...await first, ...await second].flat();
    assert.equal(answers.length, 16);
    assert.ok(answers.every((a) => a.vote.status === "FAIL"), "busy is not unreachable");
    const refused = b.requests.filter((r) => r.status === 503);
    assert.equal(refused.length, 1, "one refusal, not a storm");
    const retry = b.requests.find((r) => r.at > refused[0]!.at)!;
    assert.ok(retry.at - refused[0]!.at >= 900, "the retry came after the Retry-After second");
    assert.equal(rpc.stats()["b"]!.confirm.busy, 1);
  } finally {
    release();
    rpc.close();
  }
});

Deno.test("rpc: a peer that never answers costs each pair its deadline; the others answer meanwhile", async () => {
  const silent = Deno.listen({ hostname: "127.0.90.4", port: 0 });
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const c of silent) held.push(c);
  })();
  await using c = peerNode(5, "c");
  const log = memoryLogger();
  const rpc = createPeerRpc([
    { host: "127.0.90.4", port: (silent.addr as Deno.NetAddr).port, raw: "b", line: 1 },
    c.peer,
  ], { key: KEY, nodeName: "a", confirmDeadlineMs: 600, viewDeadlineMs: 300, log });
  try {
    const answers = await Promise.all(["p", "q", "r"].map((h) => rpc.ask(h, "tcp", "view")));
    for (const a of answers) {
      assert.equal(a[0]!.vote.status, "UNREACHABLE");
      assert.match(a[0]!.error!, /no answer within \d+ ms/);
      assert.equal(a[1]!.vote.status, "FAIL");
    }
  } finally {
    rpc.close();
    silent.close();
    for (const h of held) h.close();
    await accepting.catch(() => {});
  }
});
