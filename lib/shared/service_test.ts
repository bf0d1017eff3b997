import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { FakeClock } from "../clock/mod.ts";
import { memoryLogger } from "../log/mod.ts";
import { KEY, NOW, signedInit, testApp } from "../peers/testing.ts";
import type { Peer } from "../config/types.ts";
import { sharedPeerRoutes } from "./peer_routes.ts";
import { SharedRequestError, SharedState } from "./service.ts";
import { SharedStore } from "./store.ts";

const B: Peer = { host: "node-b", port: 2929, raw: "node-b:2929", line: 1, name: "node-b" };

/** node-b's real peer app (signature checks, body cap) with the shared routes, and node-a's
 * service talking to it through `app.request`. */
function pair(aClock = new FakeClock(NOW)) {
  const seen: [string, number][] = [];
  const b = new SharedState({
    store: new SharedStore(new DatabaseSync(":memory:")),
    nodeName: () => "node-b",
    peers: () => [],
    key: () => KEY,
    log: memoryLogger(),
    clock: new FakeClock(NOW),
  });
  const { app, log } = testApp({
    mounts: [sharedPeerRoutes(() => b, () => "node-b")],
    observeClock: (peer, sentAt, now) => seen.push([peer, sentAt - now]),
  });
  const a = new SharedState({
    store: new SharedStore(new DatabaseSync(":memory:")),
    nodeName: () => "node-a",
    peers: () => [B],
    key: () => KEY,
    log: memoryLogger(),
    clock: aClock,
    fetch: (url, init) => Promise.resolve(app.request(String(url), init)),
  });
  return { a, b, seen, log };
}

Deno.test("shared: a silence added on one node is pushed, signed, and stored by its peer", async () => {
  const { a, b } = pair();
  const { silence, sent } = await a.addSilence({
    host: "DB1",
    test: "ssh",
    until: NOW + 3_600_000,
    reason: "disk swap",
    by: "alice",
  });
  assert.deepEqual(sent, [{ peer: "node-b", ok: true, error: null }]);
  assert.deepEqual(b.silences(), [silence]);
  assert.equal(silence.host, "db1");
  assert.equal(b.store.digest(), a.store.digest());
  const gone = await a.removeSilence(silence.id, "bob");
  assert.deepEqual(gone.sent.map((d) => d.ok), [true]);
  assert.deepEqual(b.silences(), []);
  assert.equal(b.store.get(`silence:${silence.id}`)?.kind, "silence", "the tombstone is kept");
});

Deno.test("shared: what a node missed is pulled by the anti-entropy exchange", async () => {
  const { a, b } = pair();
  // b learns a silence and an acknowledgement a never heard of (a was down).
  const missed = await b.addSilence({
    host: "web1",
    test: null,
    until: NOW + 60_000,
    reason: "",
    by: "x",
  });
  await b.ack(
    { host: "web1", test: "http", reason: "on it", by: "carol" },
    () => ({ id: "inc-7" }),
  );
  assert.notEqual(a.store.digest(), b.store.digest());
  await a.syncOnce();
  assert.equal(a.store.digest(), b.store.digest());
  assert.deepEqual(a.silences(), [missed.silence]);
  assert.equal(a.ackOf("inc-7")?.by, "carol");
  assert.deepEqual(a.syncState().get("node-b:2929")?.inSync, true);
});

Deno.test("shared: the CLI's bad requests are refused with the reason", async () => {
  const { a } = pair();
  const bad: [() => Promise<unknown>, number, RegExp][] = [
    [
      () => a.addSilence({ host: "a b", test: null, until: NOW + 1, reason: "", by: "x" }),
      400,
      /HOST\[\/TEST\]/,
    ],
    [
      () => a.addSilence({ host: "h", test: null, until: NOW, reason: "", by: "x" }),
      400,
      /must be in the future/,
    ],
    [
      () =>
        a.addSilence({ host: "h", test: null, until: NOW + 400 * 86_400_000, reason: "", by: "x" }),
      400,
      /366 days/,
    ],
    [
      () => a.addSilence({ host: "h", test: null, until: NOW + 1, reason: "a\nb", by: "x" }),
      400,
      /control characters/,
    ],
    [
      () => a.removeSilence("0123456789ab", "x"),
      404,
      /no shared silence "0123456789ab" on node node-a/,
    ],
    [
      () => a.ack({ host: "h", test: "t", reason: "", by: "x" }, () => null),
      404,
      /no open incident for h\/t/,
    ],
  ];
  for (const [run, status, re] of bad) {
    await assert.rejects(run, (e: unknown) => {
      assert.ok(e instanceof SharedRequestError);
      assert.equal(e.status, status);
      assert.match(e.message, re);
      return true;
    });
  }
});

Deno.test("shared: peers' clock offsets come from their signed timestamps, stale ones included, forged ones never", async () => {
  const ahead = new FakeClock(NOW + 7_000);
  const { a, seen } = pair(ahead);
  await a.push([]);
  assert.deepEqual(seen, [["node-a", 7_000]]);
  await ahead.advance(38_000); // 45 s ahead: refused as stale, but authentic, so still measured
  const r = await a.push([]);
  assert.equal(r[0]!.ok, false);
  assert.match(r[0]!.error!, /HTTP 401/);
  assert.deepEqual(seen.at(-1), ["node-a", 45_000]);
  const { app, log } = testApp({ observeClock: (p, s, n) => seen.push([p, s - n]) });
  const before = seen.length;
  const forged = await signedInit("POST", "/v1/batch/ping", {}, {
    key: "another-key-0123456789abcdef-0123456789",
    now: NOW + 45_000,
  });
  assert.equal((await app.request("/v1/batch/ping", forged)).status, 401);
  const unknown = await signedInit("POST", "/v1/batch/ping", {}, {
    node: "stranger",
    now: NOW + 45_000,
  });
  assert.equal((await app.request("/v1/batch/ping", unknown)).status, 401);
  assert.equal(seen.length, before, "neither a forged nor an unlisted sender is measured");
  assert.ok(log.lines.some((l) => /reason=forged/.test(l)));
});
