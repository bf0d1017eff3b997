import assert from "node:assert/strict";
import { HEADERS, importPeerKey, verifyReply } from "./auth.ts";
import { KEY, nonce, NOW, signedInit, testApp } from "./testing.ts";

const env = { remoteAddr: { hostname: "192.0.2.7", port: 40000 } };
const target = { host: "www", test: "http" };

Deno.test("app: /healthz is open and says nothing else", async () => {
  const { app } = testApp();
  const res = await app.request("/healthz", {}, env);
  assert.equal(res.status, 200);
  assert.equal(await res.text(), "ok");
});

Deno.test("app: a signed confirm gets the peer's vote and incident state, signed back", async () => {
  const { app } = testApp();
  const n = nonce();
  const res = await app.request(
    "/v1/confirm",
    await signedInit("POST", "/v1/confirm", target, { nonce: n }),
    env,
  );
  assert.equal(res.status, 200);
  const body = new Uint8Array(await res.arrayBuffer());
  assert.deepEqual(JSON.parse(new TextDecoder().decode(body)), {
    node: "node-b",
    status: "FAIL",
    output: "connection refused",
    at: NOW - 1000,
    incident: null,
  });
  const signature = res.headers.get(HEADERS.signature)!;
  assert.equal(res.headers.get(HEADERS.node), "node-b");
  assert.ok(
    await verifyReply(await importPeerKey(KEY), {
      nonce: n,
      status: 200,
      node: "node-b",
      body,
      signature,
    }),
  );
});

Deno.test("app: a test this node does not have answers UNKNOWN", async () => {
  const { app } = testApp();
  for (const path of ["/v1/confirm", "/v1/view"]) {
    const res = await app.request(
      path,
      await signedInit("POST", path, { host: "www", test: "smtp" }),
      env,
    );
    assert.equal(res.status, 200);
    const j = await res.json();
    assert.equal(j.status, "UNKNOWN");
    assert.equal(j.incident, null);
  }
});

Deno.test("app: unsigned, forged, replayed and stale requests get 401, a bare body and a log line", async () => {
  const { app, log } = testApp();
  const replay = await signedInit("POST", "/v1/confirm", target);
  assert.equal((await app.request("/v1/confirm", replay, env)).status, 200);
  const cases: [string, RequestInit, string][] = [
    ["unsigned", { method: "POST", body: JSON.stringify(target) }, "unsigned"],
    [
      "forged",
      await signedInit("POST", "/v1/confirm", target, { key: "someone else's key!!" }),
      "forged",
    ],
    ["replayed", replay, "replayed"],
    ["stale", await signedInit("POST", "/v1/confirm", target, { now: NOW - 60_000 }), "stale"],
    ["signed for another path", await signedInit("POST", "/v1/view", target), "forged"],
  ];
  for (const [name, init, reason] of cases) {
    log.lines.length = 0;
    const res = await app.request("/v1/confirm", init, env);
    assert.equal(res.status, 401, name);
    assert.deepEqual(await res.json(), { error: "unauthorized" }, name);
    assert.equal(res.headers.get(HEADERS.signature), null);
    assert.equal(log.lines.length, 1, name);
    assert.match(
      log.lines[0]!,
      new RegExp(`^WARN dmonitor rejected peer request reason=${reason} .*remote=192\\.0\\.2\\.7`),
      name,
    );
  }
  // GET /v1/state needs a signature too.
  assert.equal((await app.request("/v1/state", {}, env)).status, 401);
  assert.equal((await app.request("/v1/nothing", {}, env)).status, 401);
});

Deno.test("app: a flood of bad requests is logged with a bounded number of lines", async () => {
  const { app, log } = testApp();
  for (let i = 0; i < 50; i++) await app.request("/v1/state", {}, env);
  assert.equal(log.lines.length, 20);
});

Deno.test("app: a node without peer.key refuses every /v1 request", async () => {
  const { app, log } = testApp({ key: null });
  const res = await app.request(
    "/v1/confirm",
    await signedInit("POST", "/v1/confirm", target),
    env,
  );
  assert.equal(res.status, 401);
  assert.match(log.lines[0]!, /reason=no-key/);
});

Deno.test("app: bodies over 16 KiB are refused before anything reads them", async () => {
  const { app } = testApp();
  const big = { host: "www", test: "http", pad: "x".repeat(20_000) };
  const res = await app.request("/v1/confirm", await signedInit("POST", "/v1/confirm", big), env);
  assert.equal(res.status, 413);
  // Without a Content-Length (chunked): the stream is cut off at the limit.
  const stream = new ReadableStream<Uint8Array>({
    pull(c) {
      c.enqueue(new Uint8Array(4096));
    },
  });
  const res2 = await app.request("/v1/confirm", { method: "POST", body: stream }, env);
  assert.equal(res2.status, 413);
});

Deno.test("app: malformed JSON or fields from an authenticated peer get 400 with the reason", async () => {
  const { app } = testApp();
  const cases: [unknown, string][] = [
    [{ host: "www" }, "'test' must be a test name, got undefined"],
    [{ host: "-x", test: "http" }, "'host' must be a host name or IP address, got \"-x\""],
    ["not an object", "'body' must be an object, got \"not an object\""],
  ];
  for (const [payload, want] of cases) {
    const res = await app.request(
      "/v1/confirm",
      await signedInit("POST", "/v1/confirm", payload),
      env,
    );
    assert.equal(res.status, 400);
    assert.deepEqual(await res.json(), { error: want });
  }
  const init = await signedInit("POST", "/v1/confirm", undefined);
  const res = await app.request("/v1/confirm", init, env);
  assert.deepEqual(await res.json(), { error: "request body is not valid JSON" });
});

Deno.test("app: a confirm that overruns the request deadline gets 503 on time, and its signal aborts", async () => {
  let aborted = false;
  const { app } = testApp({
    requestDeadlineMs: 100,
    confirm: (_h, _t, signal) =>
      new Promise((resolve) => {
        signal.addEventListener("abort", () => {
          aborted = true;
          resolve(null);
        });
      }),
  });
  const t0 = performance.now();
  const res = await app.request(
    "/v1/confirm",
    await signedInit("POST", "/v1/confirm", target),
    env,
  );
  assert.equal(res.status, 503);
  assert.ok(performance.now() - t0 < 1000);
  assert.equal(aborted, true);
});

Deno.test("app: GET /v1/state and POST /v1/incident", async () => {
  const { app, heard } = testApp();
  const state = await app.request(
    "/v1/state",
    await signedInit("GET", "/v1/state", undefined),
    env,
  );
  assert.deepEqual(await state.json(), { node: "node-b", state: { incidents: [] } });
  const view = {
    host: "www",
    test: "http",
    phase: "down",
    claim: null,
    incident: null,
    closed: null,
  };
  const res = await app.request(
    "/v1/incident",
    await signedInit("POST", "/v1/incident", view),
    env,
  );
  assert.deepEqual(await res.json(), { node: "node-b", known: true });
  assert.deepEqual(heard, [{ from: "node-a", view }]);
  const other = await app.request(
    "/v1/incident",
    await signedInit("POST", "/v1/incident", { ...view, host: "else" }),
    env,
  );
  assert.deepEqual(await other.json(), { node: "node-b", known: false });
});

Deno.test("app: a failing dependency is a 500 with no details, logged", async () => {
  const { app, log } = testApp({ confirm: () => Promise.reject(new Error("database on fire")) });
  const res = await app.request(
    "/v1/confirm",
    await signedInit("POST", "/v1/confirm", target),
    env,
  );
  assert.equal(res.status, 500);
  assert.deepEqual(await res.json(), { error: "internal error" });
  assert.ok(log.lines.some((l) => l.includes("database on fire")));
});

Deno.test("app: requests beyond maxInFlight get 503 at once instead of queueing", async () => {
  let release = () => {};
  const gate = new Promise<void>((r) => (release = r));
  const { app } = testApp({
    maxInFlight: 2,
    confirm: async () => {
      await gate;
      return null;
    },
  });
  const slow = [1, 2].map(async () =>
    app.request("/v1/confirm", await signedInit("POST", "/v1/confirm", target), env)
  );
  await new Promise((r) => setTimeout(r, 20));
  const third = await app.request(
    "/v1/confirm",
    await signedInit("POST", "/v1/confirm", target),
    env,
  );
  assert.equal(third.status, 503);
  release();
  for (const r of await Promise.all(slow)) assert.equal(r.status, 200);
  const after = await app.request(
    "/v1/confirm",
    await signedInit("POST", "/v1/confirm", target),
    env,
  );
  assert.equal(after.status, 200);
});

Deno.test("a request signed for node-b and replayed to node-c is refused (the signature covers the receiver)", async () => {
  const b = testApp();
  const c = testApp({ nodeName: "node-c", peers: () => ["node-a", "node-b"] });
  const init = await signedInit("POST", "/v1/confirm", { host: "www", test: "http" });
  const first = await b.app.request("/v1/confirm", init);
  assert.equal(first.status, 200);
  const replayed = await c.app.request("/v1/confirm", init);
  assert.equal(replayed.status, 401);
  assert.deepEqual(await replayed.json(), { error: "unauthorized" });
  assert.match(c.log.lines.join("\n"), /reason=misdirected detail="signed for node \\"node-b\\"/);
  // Rewriting the receiver header breaks the signature instead.
  const h = new Headers(init.headers);
  h.set("x-dmonitor-to", "node-c");
  const rewritten = await c.app.request("/v1/confirm", { ...init, headers: h });
  assert.equal(rewritten.status, 401);
  assert.match(c.log.lines.at(-1)!, /reason=forged/);
});

Deno.test("a sender that nodes.txt does not list is refused, logged rate-limited with the reason; reload applies", async () => {
  let peers = ["node-a"];
  const { app, log } = testApp({ peers: () => peers });
  for (let i = 0; i < 100; i++) {
    const init = await signedInit("GET", "/v1/state", undefined, { node: "rogue" });
    assert.equal((await app.request("/v1/state", init)).status, 401);
  }
  const lines = log.lines.filter((l) => /rejected peer request/.test(l));
  assert.ok(lines.length <= 20, `${lines.length} lines`);
  assert.match(
    lines[0]!,
    /reason=unknown-sender detail="sender \\"rogue\\" is not a peer in nodes.txt/,
  );
  assert.match(lines[0]!, /claimed_node=rogue/);
  peers = ["node-a", "rogue"];
  const ok = await app.request(
    "/v1/state",
    await signedInit("GET", "/v1/state", undefined, { node: "rogue" }),
  );
  assert.equal(ok.status, 200, "a peer added by a reload is heard at once");
});
