import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { Hono } from "hono";
import type { TestConfig } from "../config/types.ts";
import { memoryLogger } from "../log/mod.ts";
import { pushRoutes } from "./push.ts";
import { HeartbeatService } from "./service.ts";
import { PushStore } from "./store.ts";
import { exchangeBody } from "./wire.ts";

const TOKEN = "push-token-0123456789";
const beat: TestConfig = {
  host: "backup1",
  test: "nightly",
  file: "hosts.d/backup1/nightly",
  executor: { kind: "builtin", name: "heartbeat" },
  interval: 60_000,
  timeout: 10_000,
  retries: 0,
  warning: "pass",
  unknown: "fail",
  params: { token: TOKEN },
};
const tcp: TestConfig = { ...beat, test: "tcp", executor: { kind: "builtin", name: "tcp" } };

function kit(answer: (peer: string, body: unknown) => unknown = () => ({ items: [] })) {
  let now = 1_000_000;
  const sent: { peer: string; body: unknown }[] = [];
  const store = new PushStore(new DatabaseSync(":memory:"));
  const service = new HeartbeatService({
    store,
    self: () => "n1",
    test: (h, t) => [beat, tcp].find((x) => x.host === h && x.test === t),
    peers: () => ["p2", "p3"],
    exchange: (peer, body) => {
      sent.push({ peer, body });
      return Promise.resolve(answer(peer, body));
    },
    log: memoryLogger(),
    now: () => now,
  });
  const app = new Hono();
  pushRoutes({ service, log: memoryLogger() })(app);
  return { service, store, sent, app, advance: (ms: number) => now += ms, now: () => now };
}

const post = (path: string, init: RequestInit = {}) =>
  new Request(`http://n1${path}`, { method: "POST", ...init });

Deno.test("push: an accepted push is stored with its first line and shared with every peer", async () => {
  const k = kit();
  const r = await k.app.request(post("/v1/push/backup1/nightly", {
    headers: { authorization: `Bearer ${TOKEN}` },
    body: "\n  backup done \x1b[31m3.2 GB\nsecond line\n",
  }));
  assert.equal(r.status, 200);
  assert.deepEqual(await r.json(), {
    ok: true,
    host: "backup1",
    test: "nightly",
    at: new Date(k.now()).toISOString(),
    node: "n1",
  });
  assert.deepEqual(k.store.get("backup1", "nightly"), {
    host: "backup1",
    test: "nightly",
    at: k.now(),
    via: "n1",
    message: "backup done 3.2 GB",
  });
  await new Promise((r) => setTimeout(r, 0));
  assert.deepEqual(k.sent.map((s) => s.peer), ["p2", "p3"]);
  assert.deepEqual(k.sent[0]!.body, {
    items: [{
      host: "backup1",
      test: "nightly",
      push: { at: k.now(), via: "n1", message: "backup done 3.2 GB" },
    }],
  });
  // ?token= works too, for tools that can only call a URL.
  const q = await k.app.request(post(`/v1/push/backup1/nightly?token=${TOKEN}`));
  assert.equal(q.status, 200);
});

Deno.test("push: bad pushes get clear errors and change nothing", async () => {
  const k = kit();
  const auth = { authorization: `Bearer ${TOKEN}` };
  const cases: [Request, number, RegExp][] = [
    [post("/v1/push/backup1/nightly"), 401, /missing token/],
    [
      post("/v1/push/backup1/nightly", { headers: { authorization: "Bearer wrong" } }),
      403,
      /no heartbeat test backup1\/nightly with this token/,
    ],
    [
      post("/v1/push/backup1/nightly", { headers: { authorization: `Bearer ${TOKEN}x` } }),
      403,
      /with this token/,
    ],
    // An unknown test answers as a wrong token does: no caller learns which tests exist.
    [
      post("/v1/push/backup1/other", { headers: auth }),
      403,
      /no heartbeat test backup1\/other with this token/,
    ],
    [
      post("/v1/push/backup1/tcp", { headers: auth }),
      403,
      /no heartbeat test backup1\/tcp with this token/,
    ],
    [post("/v1/push/backup1/other"), 401, /missing token/],
    [post("/v1/push/backup1", { headers: auth }), 404, /POST \/v1\/push\/<host>\/<test>/],
    [post("/v1/push/backup1/nightly/x", { headers: auth }), 404, /POST \/v1\/push/],
    [post("/v1/push/%E0%A4%A/nightly", { headers: auth }), 400, /URL encoding/],
    [new Request("http://n1/v1/push/backup1/nightly", { headers: auth }), 405, /POST, not GET/],
    [
      post("/v1/push/backup1/nightly", { headers: auth, body: "x".repeat(4097) }),
      413,
      /larger than 4096/,
    ],
  ];
  for (const [req, status, re] of cases) {
    const r = await k.app.request(req);
    assert.equal(r.status, status, req.url);
    assert.match((await r.json()).error, re, req.url);
  }
  // A chunked body (no Content-Length) over the cap is cut off too.
  const stream = new ReadableStream({
    pull(c) {
      c.enqueue(new Uint8Array(1024));
    },
  });
  const r = await k.app.request(
    post(
      "/v1/push/backup1/nightly",
      { headers: auth, body: stream, duplex: "half" } as RequestInit,
    ),
  );
  assert.equal(r.status, 413);
  assert.equal(k.store.get("backup1", "nightly"), null);
  assert.deepEqual(k.sent, []);
});

Deno.test("merge: keeps the newer push, ignores older, far-future and unconfigured ones", () => {
  const k = kit();
  const p = (at: number, via = "n2") => ({
    host: "backup1",
    test: "nightly",
    at,
    via,
    message: "",
  });
  const item = (at: number) => ({ host: "backup1", test: "nightly", push: p(at) });
  assert.equal(k.service.merge([item(k.now() - 5_000)])[0]!.push!.at, k.now() - 5_000);
  assert.equal(k.service.merge([item(k.now() - 9_000)])[0]!.push!.at, k.now() - 5_000, "older");
  assert.equal(k.service.merge([item(k.now() + 120_000)])[0]!.push!.at, k.now() - 5_000, "future");
  assert.deepEqual(
    k.service.merge([{ host: "backup1", test: "tcp", push: p(k.now()) }]),
    [{ host: "backup1", test: "tcp", push: null }],
  );
  assert.deepEqual(
    k.service.handleExchange(exchangeBody([{ host: "backup1", test: "nightly", push: null }])),
    {
      items: [{
        host: "backup1",
        test: "nightly",
        push: { at: k.now() - 5_000, via: "n2", message: "" },
      }],
    },
  );
  assert.throws(
    () => k.service.handleExchange({ items: [{ host: "x", test: "../y" }] }),
    /items\[0\]\.test/,
  );
});

Deno.test("judge: asks the peers before failing, and a newer push a peer holds keeps it up", async () => {
  let peerPush: number | null = null;
  const k = kit((_peer, body) => {
    const it = (body as { items: { host: string; test: string }[] }).items[0]!;
    return {
      items: [{
        ...it,
        push: peerPush === null ? null : { at: peerPush, via: "n2", message: "ok" },
      }],
    };
  });
  const o = { signal: new AbortController().signal, timeoutMs: 10_000 };
  assert.equal((await k.service.judge("backup1", "nightly", 60_000, 6_000, o)).status, "OK");
  assert.equal(k.sent.length, 0, "no exchange while within the grace");
  k.advance(66_001);
  const down = await k.service.judge("backup1", "nightly", 60_000, 6_000, o);
  assert.equal(down.status, "FAIL");
  assert.match(down.output, /no push since .* when this node started watching/);
  assert.deepEqual(k.sent.map((s) => s.peer), ["p2", "p3"]);
  peerPush = k.now() - 1_000;
  const up = await k.service.judge("backup1", "nightly", 60_000, 6_000, o);
  assert.equal(up.status, "OK");
  assert.equal(
    up.output,
    `last push 1s ago (${new Date(peerPush).toISOString().replace(/\.\d{3}Z$/, "Z")}) via n2: ok`,
  );
});
