import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { memoryLogger } from "../log/mod.ts";
import { createNotifier, HOLD_MS } from "./notifier.ts";
import { Outbox } from "./outbox.ts";
import type { Silence } from "./silence.ts";
import { manualClock, sampleDown, T0, tempDb } from "./testing.ts";
import type { Target } from "./types.ts";

const targets: Target[] = [{ channel: "email", name: "a@example.com" }];
const HOUR = 3_600_000;

Deno.test("notifier: the notification is in the outbox, held, before silences are consulted", async () => {
  await using t = await tempDb();
  const outbox = new Outbox(t.db);
  let seen: { status: string; nextAt: number }[] = [];
  const notifier = createNotifier({
    db: t.db,
    targets: () => targets,
    clock: manualClock(),
    log: memoryLogger(),
    silences: () => {
      seen = outbox.byNotification(sampleDown().id).map((r) => ({
        status: r.status,
        nextAt: r.nextAt,
      }));
      return [];
    },
  });
  assertEquals((await notifier.enqueue(sampleDown())).queued, 1);
  assertEquals(seen, [{ status: "pending", nextAt: T0 + HOLD_MS }], "held while silences are read");
  assertEquals(outbox.due(T0).map((r) => r.status), ["pending"], "due once released");
});

Deno.test("notifier: notifications arriving during a read of the silences share the next read", async () => {
  await using t = await tempDb();
  let reads = 0;
  let release: () => void = () => {};
  let silenced = false;
  const notifier = createNotifier({
    db: t.db,
    targets: () => targets,
    clock: manualClock(),
    log: memoryLogger(),
    silences: async () => {
      reads++;
      const now = silenced;
      await new Promise<void>((r) => (release = r));
      const all = Array.from({ length: 51 }, (_, i): Silence => ({
        host: `h${i}`,
        test: null,
        until: T0 + HOUR,
        reason: "",
        file: `silence.d/h${i}`,
      }));
      return now ? all : [];
    },
  });
  const first = notifier.enqueue(sampleDown({ id: "n0", host: "h0" }));
  await new Promise((r) => setTimeout(r, 0));
  // A silence written after the first read began: every later notification must see it.
  silenced = true;
  const later = Array.from(
    { length: 50 },
    (_, i) => notifier.enqueue(sampleDown({ id: `n${i + 1}`, host: `h${i + 1}` })),
  );
  release();
  assertEquals((await first).muted, false);
  while (reads < 2) await new Promise((r) => setTimeout(r, 0));
  release();
  const out = await Promise.all(later);
  assertEquals(reads, 2, "one read for the first, one shared by the 50 after it");
  ok(out.every((r) => r.muted), "each later notification saw the silence");
});

Deno.test("notifier: silences that never answer do not hold the page", async () => {
  await using t = await tempDb();
  const log = memoryLogger();
  const notifier = createNotifier({
    db: t.db,
    targets: () => targets,
    clock: manualClock(),
    log,
    silences: () => new Promise<Silence[]>(() => {}),
    silenceDeadlineMs: 50,
  });
  const r = await notifier.enqueue(sampleDown());
  assertEquals([r.queued, r.muted], [1, false]);
  assertEquals(new Outbox(t.db).due(T0).length, 1);
  await notifier.enqueue(sampleDown({ id: "n2" }));
  assertEquals(
    log.lines.filter((l) => l.includes("cannot read silences")),
    ['WARN dmonitor.alerts cannot read silences, notifying anyway error="silence.d/ not read within 50 ms"'],
    "logged once for two notifications",
  );
});

Deno.test("notifier: a failing source and unreadable files are logged once, the rest still mute", async () => {
  await using t = await tempDb();
  const log = memoryLogger();
  let fail = true;
  const silence: Silence = {
    host: "www.example.com",
    test: null,
    until: T0 + HOUR,
    reason: "",
    file: "silence.d/www.example.com",
  };
  const notifier = createNotifier({
    db: t.db,
    targets: () => targets,
    clock: manualClock(),
    log,
    silences: () => {
      if (fail) throw new Error("boom");
      return {
        silences: [silence],
        problems: [{ file: "silence.d/db1", key: "", message: "it is a FIFO; it mutes nothing" }],
      };
    },
  });
  for (const id of ["a", "b"]) {
    assertEquals((await notifier.enqueue(sampleDown({ id, host: "db1" }))).muted, false);
  }
  fail = false;
  for (const id of ["c", "d"]) {
    assertEquals((await notifier.enqueue(sampleDown({ id, host: "db1" }))).muted, false, id);
  }
  const muted = await notifier.enqueue(sampleDown({ id: "e" }));
  assertEquals(muted.mutedBy, silence, "a readable silence still mutes");
  assertEquals(new Outbox(t.db).byNotification("e").map((r) => r.status), ["muted"]);
  const warns = log.lines.filter((l) => l.startsWith("WARN"));
  assertEquals(warns, [
    "WARN dmonitor.alerts cannot read silences, notifying anyway error=boom",
    'WARN dmonitor.alerts silence ignored, it mutes nothing problem="silence.d/db1: it is a FIFO; it mutes nothing"',
  ]);
  ok(log.lines.some((l) => l.includes("notification queued") && l.includes("notification=d")));
});

Deno.test("outbox: held rows are not due until released, or until the hold ends (a crash in between)", async () => {
  await using t = await tempDb();
  const outbox = new Outbox(t.db);
  const ids = outbox.enqueueHeld(sampleDown(), targets, T0, T0 + HOLD_MS);
  assertEquals(ids.length, 1);
  assertEquals(outbox.enqueueHeld(sampleDown(), targets, T0, T0 + HOLD_MS), [], "queued once");
  assertEquals(outbox.due(T0), [], "held");
  assertEquals(
    outbox.due(T0 + HOLD_MS).map((r) => r.id),
    ids,
    "sent after the hold if never released",
  );
  outbox.release(ids, T0 + 1);
  assertEquals(outbox.due(T0 + 1).map((r) => r.id), ids, "due once released");
  const muted = outbox.enqueueHeld(sampleDown({ id: "m" }), targets, T0, T0 + HOLD_MS);
  outbox.mute(muted, "muted by silence.d/x");
  assertEquals(
    outbox.byNotification("m").map((r) => [r.status, r.lastError]),
    [["muted", "muted by silence.d/x"]],
  );
  assertEquals(outbox.due(T0 + HOLD_MS).map((r) => r.id), ids, "a muted row is never due");
});

Deno.test("notifier: routes choose the rows; min_duration holds the down notice and recovery drops it", async () => {
  await using t = await tempDb();
  const outbox = new Outbox(t.db);
  const clock = manualClock();
  const all = { hosts: null, tests: null, sites: null, kinds: null, minDuration: 0 };
  const routed = [
    { channel: "command" as const, name: "all" },
    { channel: "command" as const, name: "other", route: { ...all, tests: ["other"] } },
    { channel: "command" as const, name: "slow", route: { ...all, minDuration: 10 * 60_000 } },
  ];
  const notifier = createNotifier({ db: t.db, targets: () => routed, clock, log: memoryLogger() });
  const rows = (id: string) =>
    outbox.byNotification(id).map((r) =>
      `${r.target} ${r.status} ${r.nextAt - T0} ${r.lastError ?? ""}`.trim()
    );
  // Incident 1: recovers after 5 min, before slow's 10 min.
  assertEquals((await notifier.enqueue(sampleDown())).queued, 2);
  assertEquals(rows("n-down-1"), [
    "all pending 0",
    "other muted 0 not routed: tests other",
    "slow pending 600000",
  ]);
  assertEquals(outbox.due(T0 + 599_999).map((r) => r.target), ["all"], "slow held back");
  assertEquals(outbox.downRecord("inc-42"), "queued");
  clock.advance(5 * 60_000);
  const rec = sampleDown({ id: "n-rec-1", kind: "recovered", endedAt: T0 + 5 * 60_000 });
  assertEquals((await notifier.enqueue(rec)).queued, 1);
  assertEquals(rows("n-down-1")[2], "slow muted 600000 not routed: recovered before min_duration");
  assertEquals(rows("n-rec-1"), [
    "all pending 300000",
    "other muted 300000 not routed: tests other",
    "slow muted 300000 not routed: recovered before min_duration",
  ]);
  // Incident 2: lasts 20 min; slow's down notice goes out at 10 min, so it gets the recovery.
  const start = T0 + HOUR;
  clock.advance(HOUR - 5 * 60_000);
  const down2 = sampleDown({ id: "n-down-2", incidentId: "inc-2", startedAt: start });
  await notifier.enqueue(down2);
  const slow = outbox.byNotification("n-down-2").find((r) => r.target === "slow")!;
  assertEquals(slow.nextAt, start + 600_000);
  clock.advance(20 * 60_000);
  outbox.markSent(slow.id, start + 600_000, "ok");
  const rec2 = sampleDown({
    id: "n-rec-2",
    kind: "recovered",
    incidentId: "inc-2",
    startedAt: start,
    endedAt: start + 20 * 60_000,
  });
  assertEquals((await notifier.enqueue(rec2)).queued, 2);
  assertEquals(
    outbox.byNotification("n-rec-2").filter((r) => r.status === "pending").map((r) => r.target),
    ["all", "slow"],
  );
});

Deno.test("notifier: an acknowledged incident's reminders are muted, its down and recovery notices are not", async () => {
  await using t = await tempDb();
  const outbox = new Outbox(t.db);
  const ack = { by: "carol", origin: "n2", at: T0, reason: "on it" };
  const notifier = createNotifier({
    db: t.db,
    targets: () => targets,
    clock: manualClock(),
    log: memoryLogger(),
    acknowledged: (id) => id === sampleDown().incidentId ? ack : null,
  });
  const down = sampleDown();
  const reminder = { ...down, id: `${down.incidentId}/reminder/1`, kind: "reminder" as const };
  const recovered = { ...down, id: `${down.incidentId}/recovered`, kind: "recovered" as const };
  const other = { ...reminder, id: "other/reminder/1", incidentId: "other" };
  assertEquals((await notifier.enqueue(down)).muted, false);
  const r = await notifier.enqueue(reminder);
  assertEquals([r.queued, r.muted, r.mutedBy], [1, true, null]);
  assertEquals(
    outbox.byNotification(reminder.id).map((x) => [x.status, x.lastError]),
    [["muted", "muted: acknowledged by carol on n2 at 2025-03-01 12:00:00 UTC: on it"]],
  );
  assertEquals((await notifier.enqueue(recovered)).muted, false, "the recovery is still sent");
  assertEquals((await notifier.enqueue(other)).muted, false, "another incident's reminder is sent");
});
