// The central store: ingest is keyed by site + name + content, incidents by site + incident + kind.
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { createHash } from "node:crypto";
import { dataFile, notification, result, T0 } from "./testing.ts";
import {
  centralNotification,
  noticeSeq,
  parsePandoraTime,
  readIncidentsModule,
} from "./incidents.ts";
import { SyncStore } from "./store.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

function store() {
  const s = new SyncStore(new DatabaseSync(":memory:"));
  s.ensureSite("plant-7", "127.0.0.2:41121", T0);
  s.ensureSite("plant-8", "127.0.0.3:41121", T0);
  return s;
}

Deno.test("ingest: modules' latest value and history per site and agent; a re-delivery is a duplicate", () => {
  const s = store();
  const f1 = enc(
    dataFile("node-1", T0 + 1000, [result({ host: "h", test: "ping", startedAt: T0 + 500 })]),
  );
  const f2 = enc(
    dataFile("node-1", T0 + 2000, [
      result({ host: "h", test: "ping", status: "FAIL", output: "loss", startedAt: T0 + 1500 }),
    ]),
  );
  assert.equal(s.ingest("plant-7", "a.1.data", f1, sha(f1), T0 + 5000).status, "ingested");
  assert.equal(s.ingest("plant-7", "a.2.data", f2, sha(f2), T0 + 6000).status, "ingested");
  // The same file again (the puller died before deleting it, or the site re-sent it): nothing new.
  assert.equal(s.ingest("plant-7", "a.1.data", f1, sha(f1), T0 + 7000).status, "duplicate");
  // The same name and content at another site is that site's file.
  assert.equal(s.ingest("plant-8", "a.1.data", f1, sha(f1), T0 + 7000).status, "ingested");
  const last = s.modules("plant-7", "node-1").find((m) => m.module === "h/ping")!;
  assert.deepEqual([last.data, last.description, last.at], ["0", "loss", T0 + 1500]);
  assert.deepEqual(s.history("plant-7", "node-1", "h/ping").map((h) => [h.data, h.at]), [[
    "0",
    T0 + 1500,
  ], ["1", T0 + 500]]);
  // An older file arriving late goes into the history but does not overwrite the latest value.
  const f0 = enc(
    dataFile("node-1", T0, [result({ host: "h", test: "ping", startedAt: T0 - 100 })]),
  );
  s.ingest("plant-7", "a.0.data", f0, sha(f0), T0 + 8000);
  assert.equal(s.modules("plant-7", "node-1").find((m) => m.module === "h/ping")!.data, "0");
  assert.equal(s.history("plant-7", "node-1", "h/ping").length, 3);
  const row = s.site("plant-7")!;
  assert.deepEqual([row.files, row.duplicates, row.newestDataAt], [3, 1, T0 + 2000]);
  assert.deepEqual(s.views(T0 + 12_000, ["plant-7", "plant-8", "plant-9"]), [
    { name: "plant-7", lastPull: null, lagMs: 10_000, files: 3, errors: 0, lastError: null },
    { name: "plant-8", lastPull: null, lagMs: 11_000, files: 1, errors: 0, lastError: null },
    { name: "plant-9", lastPull: null, lagMs: null, files: 0, errors: 0, lastError: null },
  ]);
});

Deno.test("ingest: a partial or foreign file is rejected, recorded, and never half-ingested", () => {
  const s = store();
  const full = dataFile("node-1", T0, [result()]);
  const cut = enc(full.slice(0, full.length - 20));
  const out = s.ingest("plant-7", "cut.data", cut, sha(cut), T0);
  assert.equal(out.status, "rejected");
  assert.match(out.error!, /cut short/);
  assert.deepEqual(s.modules("plant-7"), []);
  assert.equal(s.site("plant-7")!.rejected, 1);
  // The complete file under the same name is different content: ingested.
  assert.equal(s.ingest("plant-7", "cut.data", enc(full), sha(enc(full)), T0).status, "ingested");
});

Deno.test("incidents: once per site + incident + kind, whatever files or nodes bring them", () => {
  const s = store();
  const down = notification({ id: "inc-9/down", incidentId: "inc-9", notifier: "node-1" });
  // Another node of the site took the notice over: same incident and kind, same id (quorum's rule).
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
  const firstSeen = files.map(([name, text]) =>
    s.ingest("plant-7", name, enc(text), sha(enc(text)), T0 + 9000).incidents
  );
  assert.deepEqual(firstSeen, [1, 0, 1, 2, 0]);
  // The same incident id at another site is another incident.
  const other = dataFile("node-1", T0, [], [down]);
  assert.equal(s.ingest("plant-8", "x.data", enc(other), sha(enc(other)), T0).incidents, 1);
  const pending = s.pendingNotifications();
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
  for (const p of pending.slice(0, 2)) s.markNotified(p.key, T0 + 10_000);
  assert.equal(s.pendingNotifications().length, 3);
  // Pruning forgets notified incidents only after the ledger retention.
  s.prune(T0 + 10_000 + 1000, 500, 86_400_000);
  assert.equal(s.pendingNotifications().length, 3);
});

Deno.test("readIncidentsModule ignores foreign and malformed content; helpers", () => {
  assert.deepEqual(readIncidentsModule("hello"), []);
  assert.deepEqual(readIncidentsModule(`{"dmonitor":2,"notifications":[]}`), []);
  assert.deepEqual(readIncidentsModule(`{"dmonitor":1,"notifications":[{"id":"x"}]}`), []);
  assert.equal(noticeSeq({ id: "i/reminder/12", kind: "reminder" }), 12);
  assert.equal(noticeSeq({ id: "i/down", kind: "down" }), 0);
  assert.equal(parsePandoraTime("2026/11/21 08:52:23"), Date.UTC(2026, 10, 21, 8, 52, 23));
  assert.equal(parsePandoraTime("yesterday"), null);
});
