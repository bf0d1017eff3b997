// The central store, the same cases against SQLite and PostgreSQL: ingest is keyed by site + name +
// content, incidents by site + incident + kind; leases, notification claims, concurrent ingest.
// PostgreSQL: a throw-away cluster on 127.0.141.2 (lib/pg/testing.ts).
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { dataFile, notification, result, T0 } from "./testing.ts";
import {
  centralNotification,
  noticeSeq,
  parsePandoraTime,
  readIncidentsModule,
} from "./incidents.ts";
import { LeaseLostError, type SyncStore } from "./store.ts";
import { withBackends } from "./store_backends_testing.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

async function sites(s: SyncStore) {
  await s.ensureSite("plant-7", "127.0.0.2:41121", T0);
  await s.ensureSite("plant-8", "127.0.0.3:41121", T0);
  return s;
}

withBackends("sync store", {
  "ingest: modules' latest value and history per site and agent; a re-delivery is a duplicate":
    async (store) => {
      const s = await sites(store);
      const f1 = enc(
        dataFile("node-1", T0 + 1000, [result({ host: "h", test: "ping", startedAt: T0 + 500 })]),
      );
      const f2 = enc(
        dataFile("node-1", T0 + 2000, [
          result({ host: "h", test: "ping", status: "FAIL", output: "loss", startedAt: T0 + 1500 }),
        ]),
      );
      assert.equal(
        (await s.ingest("plant-7", "a.1.data", f1, sha(f1), T0 + 5000)).status,
        "ingested",
      );
      assert.equal(
        (await s.ingest("plant-7", "a.2.data", f2, sha(f2), T0 + 6000)).status,
        "ingested",
      );
      // The same file again (the puller died before deleting it, or the site re-sent it).
      assert.equal(
        (await s.ingest("plant-7", "a.1.data", f1, sha(f1), T0 + 7000)).status,
        "duplicate",
      );
      assert.ok(await s.known("plant-7", "a.1.data", sha(f1)));
      // The same name and content at another site is that site's file.
      assert.equal(
        (await s.ingest("plant-8", "a.1.data", f1, sha(f1), T0 + 7000)).status,
        "ingested",
      );
      const last = (await s.modules("plant-7", "node-1")).find((m) => m.module === "h/ping")!;
      assert.deepEqual([last.data, last.description, last.at], ["0", "loss", T0 + 1500]);
      assert.deepEqual(
        (await s.history("plant-7", "node-1", "h/ping")).map((h) => [h.data, h.at]),
        [["0", T0 + 1500], ["1", T0 + 500]],
      );
      // An older file arriving late goes into the history but does not overwrite the latest value.
      const f0 = enc(
        dataFile("node-1", T0, [result({ host: "h", test: "ping", startedAt: T0 - 100 })]),
      );
      await s.ingest("plant-7", "a.0.data", f0, sha(f0), T0 + 8000);
      assert.equal(
        (await s.modules("plant-7", "node-1")).find((m) => m.module === "h/ping")!.data,
        "0",
      );
      assert.equal((await s.history("plant-7", "node-1", "h/ping")).length, 3);
      const row = (await s.site("plant-7"))!;
      assert.deepEqual([row.files, row.duplicates, row.newestDataAt], [3, 1, T0 + 2000]);
      if (s.kind === "sqlite") {
        // (PostgreSQL's view is timed by the server's clock, so its lag is not T0-based.)
        assert.deepEqual(await s.views(T0 + 12_000, ["plant-7", "plant-8", "plant-9"]), [
          {
            name: "plant-7",
            lastPull: null,
            lagMs: 10_000,
            files: 3,
            errors: 0,
            lastError: null,
            drainedBy: null,
          },
          {
            name: "plant-8",
            lastPull: null,
            lagMs: 11_000,
            files: 1,
            errors: 0,
            lastError: null,
            drainedBy: null,
          },
          {
            name: "plant-9",
            lastPull: null,
            lagMs: null,
            files: 0,
            errors: 0,
            lastError: null,
            drainedBy: null,
          },
        ]);
      } else {
        const v = await s.views(Date.now(), ["plant-7", "plant-9"]);
        assert.deepEqual(v.map((x) => [x.name, x.files, x.drainedBy]), [
          ["plant-7", 3, null],
          ["plant-9", 0, null],
          ["plant-8", 1, null],
        ]);
      }
    },

  "ingest: a partial or foreign file is rejected, recorded, and never half-ingested": async (
    store,
  ) => {
    const s = await sites(store);
    const full = dataFile("node-1", T0, [result()]);
    const cut = enc(full.slice(0, full.length - 20));
    const out = await s.ingest("plant-7", "cut.data", cut, sha(cut), T0);
    assert.equal(out.status, "rejected");
    assert.match(out.error!, /cut short/);
    assert.deepEqual(await s.modules("plant-7"), []);
    assert.equal((await s.site("plant-7"))!.rejected, 1);
    // Rejected once is known: the same bytes again are a duplicate, not a second rejection.
    assert.equal((await s.ingest("plant-7", "cut.data", cut, sha(cut), T0)).status, "duplicate");
    // The complete file under the same name is different content: ingested.
    const ok = await s.ingest("plant-7", "cut.data", enc(full), sha(enc(full)), T0);
    assert.equal(ok.status, "ingested");
  },

  "incidents: once per site + incident + kind, whatever files or nodes bring them": async (
    store,
  ) => {
    const s = await sites(store);
    const down = notification({ id: "inc-9/down", incidentId: "inc-9", notifier: "node-1" });
    // Another node of the site took the notice over: same incident and kind, same id.
    const downAgain = { ...down, notifier: "node-2" };
    const up = notification({
      id: "inc-9/recovered",
      incidentId: "inc-9",
      kind: "recovered",
      endedAt: T0 + 60_000,
    });
    const rem = (n: number) =>
      notification({ id: `inc-9/reminder/${n}`, incidentId: "inc-9", kind: "reminder" });
    const files = [
      ["n1.1.data", dataFile("node-1", T0 + 1000, [], [down])],
      ["n2.1.data", dataFile("node-2", T0 + 1000, [], [downAgain])],
      ["n1.2.data", dataFile("node-1", T0 + 2000, [], [down, rem(1)])],
      ["n1.3.data", dataFile("node-1", T0 + 3000, [], [rem(1), rem(2), up])],
      ["n2.3.data", dataFile("node-2", T0 + 3000, [], [up])],
    ] as const;
    const firstSeen: number[] = [];
    for (const [name, text] of files) {
      firstSeen.push(
        (await s.ingest("plant-7", name, enc(text), sha(enc(text)), T0 + 9000)).incidents,
      );
    }
    assert.deepEqual(firstSeen, [1, 0, 1, 2, 0]);
    // The same incident id at another site is another incident.
    const other = dataFile("node-1", T0, [], [down]);
    assert.equal(
      (await s.ingest("plant-8", "x.data", enc(other), sha(enc(other)), T0)).incidents,
      1,
    );
    const pending = await s.pendingNotifications();
    assert.deepEqual(pending.map((p) => p.notification.id), [
      "site/plant-7/inc-9/down",
      "site/plant-7/inc-9/reminder/1",
      "site/plant-7/inc-9/reminder/2",
      "site/plant-7/inc-9/recovered",
      "site/plant-8/inc-9/down",
    ]);
    assert.deepEqual(pending[0]!.notification, centralNotification("plant-7", down));
    assert.equal(pending[0]!.notification.site, "plant-7");
    assert.equal(pending[0]!.notification.incidentId, "site/plant-7/inc-9");
    for (const p of pending.slice(0, 2)) await s.markNotified(p.key, T0 + 10_000);
    assert.equal((await s.pendingNotifications()).length, 3);
    // Pruning forgets notified incidents only after the ledger retention.
    await s.prune(T0 + 10_000 + 1000, 500, 86_400_000);
    assert.equal((await s.pendingNotifications()).length, 3);
  },

  "notifications: each is claimed by one node; a node that crashed gets its own claims back":
    async (store, another) => {
      const s = await sites(store);
      const b = await another();
      for (let i = 0; i < 4; i++) {
        const site = i % 2 ? "plant-8" : "plant-7";
        const n = notification({ id: `i${i}/down`, incidentId: `i${i}` });
        await s.queueNotification(site, centralNotification(site, n), T0 + i);
      }
      // Queued twice (two nodes deciding the same "site unreachable"): once.
      assert.equal(
        await b.queueNotification(
          "plant-7",
          centralNotification("plant-7", notification({ id: "i0/down", incidentId: "i0" })),
          T0,
        ),
        false,
      );
      // Node a drains plant-7, node b plant-8: each claims only its sites' notices.
      const a1 = await s.claimNotifications("a", ["plant-7"]);
      const b1 = await b.claimNotifications("b", ["plant-8"]);
      assert.deepEqual(a1.map((p) => p.notification.id), [
        "site/plant-7/i0/down",
        "site/plant-7/i2/down",
      ]);
      assert.deepEqual(b1.map((p) => p.notification.id), [
        "site/plant-8/i1/down",
        "site/plant-8/i3/down",
      ]);
      // b takes plant-7 over while a's claims are unmarked (a crashed after claiming): they stay
      // a's, for a's own outbox to deliver once it is back; b gets nothing of them.
      assert.deepEqual(
        await b.claimNotifications("b", ["plant-7", "plant-8"]).then((x) => x.length),
        2,
      );
      await s.markNotified(a1[0]!.key, T0 + 100);
      const again = await s.claimNotifications("a", []);
      assert.deepEqual(again.map((p) => p.notification.id), ["site/plant-7/i2/down"]);
      // Concurrent claims of the same pending rows: each row goes to one of them.
      for (let i = 10; i < 30; i++) {
        const n = notification({ id: `i${i}/down`, incidentId: `i${i}` });
        await s.queueNotification("plant-7", centralNotification("plant-7", n), T0 + i);
      }
      const [x, y] = await Promise.all([
        s.claimNotifications("x", null, 100),
        b.claimNotifications("y", null, 100),
      ]);
      const ids = [...x, ...y].map((p) => p.notification.id).filter((id) => /i[123]\d\//.test(id));
      assert.equal(ids.length, 20);
      assert.equal(new Set(ids).size, 20);
    },

  "leases: one holder at a time, renewed, taken over only once expired, fenced ingest": async (
    store,
    another,
  ) => {
    const s = await sites(store);
    const b = await another();
    // SQLite leases run on the given clock; PostgreSQL's on the server's: use real time for both.
    const ttl = 60_000;
    const now = Date.now();
    const g1 = await s.acquireLease("plant-7", "a", ttl, now);
    assert.equal(g1.held, true);
    assert.equal(g1.takenFrom, null);
    const g2 = await b.acquireLease("plant-7", "b", ttl, now);
    assert.equal(g2.held, false);
    assert.equal(g2.lease?.holder, "a");
    assert.equal((await s.acquireLease("plant-7", "a", ttl, now)).held, true);
    assert.deepEqual(await s.renewLeases("a", ttl, now), ["plant-7"]);
    assert.deepEqual(await s.renewLeases("b", ttl, now), []);
    const f = enc(dataFile("node-1", T0, [result()]));
    // b cannot ingest under a's lease; a can.
    await assert.rejects(
      b.ingest("plant-7", "f.data", f, sha(f), now, { holder: "b", ttlMs: ttl }),
      LeaseLostError,
    );
    assert.equal(
      await s.known("plant-7", "f.data", sha(f)),
      false,
      "a fenced-out ingest writes nothing",
    );
    const ok = await s.ingest("plant-7", "f.data", f, sha(f), now, { holder: "a", ttlMs: ttl });
    assert.equal(ok.status, "ingested");
    const v = await b.views(now, ["plant-7"]);
    assert.equal(v[0]!.drainedBy, "a");
    // a's lease lapses (a short one, already over): b takes over, with the takeover reported.
    await s.acquireLease("plant-8", "a", 1, now);
    await new Promise((r) => setTimeout(r, 20));
    const t = await b.acquireLease("plant-8", "b", ttl, Date.now());
    assert.equal(t.held, true);
    assert.equal(t.takenFrom, "a");
    assert.ok(t.expiredFor !== null && t.expiredFor >= 0, `expiredFor ${t.expiredFor}`);
    assert.equal(t.lease!.epoch, 2);
    await assert.rejects(
      s.ingest("plant-8", "g.data", f, sha(f), Date.now(), { holder: "a", ttlMs: ttl }),
      LeaseLostError,
    );
    // Two nodes asking at once for a site nobody held yet: exactly one gets it.
    for (let k = 0; k < 5; k++) {
      const site = `new-${k}`;
      const both = await Promise.all([
        s.acquireLease(site, "a", ttl, Date.now()),
        b.acquireLease(site, "b", ttl, Date.now()),
      ]);
      assert.equal(both.filter((g) => g.held).length, 1, JSON.stringify(both));
      await s.releaseLeases("a");
      await b.releaseLeases("b");
    }
    await b.acquireLease("plant-8", "b", ttl, Date.now());
    // One site handed over: only that lease goes.
    await s.acquireLease("plant-9", "a", ttl, Date.now());
    await s.releaseLease("plant-9", "b"); // not b's: nothing
    assert.equal((await s.leases()).find((l) => l.site === "plant-9")?.holder, "a");
    await s.releaseLease("plant-9", "a");
    assert.equal((await s.leases()).find((l) => l.site === "plant-9"), undefined);
    // Heartbeats: who is alive.
    await s.heartbeat("a", Date.now());
    await b.heartbeat("b", Date.now());
    assert.deepEqual(await s.liveNodes(60_000, Date.now()), ["a", "b"]);
    await new Promise((r) => setTimeout(r, 30));
    await b.heartbeat("b", Date.now());
    assert.deepEqual(await b.liveNodes(20, Date.now()), ["b"]);
    // A clean stop gives the leases up: the other takes over at once.
    await s.releaseLeases("a");
    assert.equal((await b.acquireLease("plant-7", "b", ttl, Date.now())).takenFrom, null);
    assert.deepEqual((await s.leases()).map((l) => [l.site, l.holder]), [["plant-7", "b"], [
      "plant-8",
      "b",
    ]]);
  },

  "concurrent ingest of one file by two nodes: one ingests, the other finds a duplicate": async (
    store,
    another,
  ) => {
    const s = await sites(store);
    const b = await another();
    const files = Array.from(
      { length: 20 },
      (_, i) => enc(dataFile("node-1", T0 + i, [result({ output: String(i), startedAt: T0 + i })])),
    );
    const outs = await Promise.all(files.flatMap((f, i) => [
      s.ingest("plant-7", `f${i}.data`, f, sha(f), T0),
      b.ingest("plant-7", `f${i}.data`, f, sha(f), T0),
    ]));
    assert.equal(outs.filter((o) => o.status === "ingested").length, 20);
    assert.equal(outs.filter((o) => o.status === "duplicate").length, 20);
    const row = (await s.site("plant-7"))!;
    assert.deepEqual([row.files, row.duplicates], [20, 20]);
    assert.equal((await s.history("plant-7", "node-1", "www.example.com/http", 1000)).length, 20);
  },

  "migrations: opening again applies nothing; stores opened at once share one schema": async (
    _s,
    another,
  ) => {
    const many = await Promise.all([another(), another(), another()]);
    for (const m of many) assert.deepEqual(await m.sites(), []);
  },
}, { pgHost: "127.0.141.2" });

Deno.test("readIncidentsModule ignores foreign and malformed content; helpers", () => {
  assert.deepEqual(readIncidentsModule("hello"), []);
  assert.deepEqual(readIncidentsModule(`{"dmonitor":2,"notifications":[]}`), []);
  assert.deepEqual(readIncidentsModule(`{"dmonitor":1,"notifications":[{"id":"x"}]}`), []);
  assert.equal(noticeSeq({ id: "i/reminder/12", kind: "reminder" }), 12);
  assert.equal(noticeSeq({ id: "i/down", kind: "down" }), 0);
  assert.equal(parsePandoraTime("2026/11/21 08:52:23"), Date.UTC(2026, 10, 21, 8, 52, 23));
  assert.equal(parsePandoraTime("yesterday"), null);
});
