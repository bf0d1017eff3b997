import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { memoryLogger } from "../log/mod.ts";
import { backoff } from "./backoff.ts";
import { deliverDue, runOutbox } from "./deliver.ts";
import { createNotifier } from "./notifier.ts";
import { Outbox, procStart, selfHolder } from "./outbox.ts";
import type { Silence } from "./silence.ts";
import { manualClock, sampleDown, T0, tempDb } from "./testing.ts";
import { type Channel, DeliveryError, type Message, type Target } from "./types.ts";

const targets: Target[] = [
  { channel: "email", name: "a@example.com" },
  { channel: "email", name: "b@example.com" },
  { channel: "webhook", name: "ops" },
];

/** A channel that records accepted messages and answers with `behave(msg, nth call)`. */
function recorder(behave: (m: Message, n: number) => string | Error = () => "250 ok") {
  const sent: Message[] = [];
  let calls = 0;
  const channel: Channel = {
    send(msg) {
      const r = behave(msg, ++calls);
      if (r instanceof Error) return Promise.reject(r);
      sent.push(msg);
      return Promise.resolve({ detail: r });
    },
  };
  return { channel, sent, to: () => sent.map((m) => m.target.name) };
}

Deno.test("outbox: the same notification queued twice is delivered once per target", async () => {
  await using t = await tempDb();
  const clock = manualClock();
  const log = memoryLogger();
  const notifier = createNotifier({ db: t.db, targets: () => targets, clock, log });
  assertEquals((await notifier.enqueue(sampleDown())).queued, 3);
  assertEquals((await notifier.enqueue(sampleDown())).queued, 0, "second enqueue adds nothing");
  const email = recorder();
  const hook = recorder(() => "HTTP 200");
  const opts = { db: t.db, channels: { email: email.channel, webhook: hook.channel }, clock, log };
  const first = await deliverDue(opts);
  assertEquals(first.map((a) => a.outcome), ["sent", "sent", "sent"]);
  assertEquals(email.to().sort(), ["a@example.com", "b@example.com"]);
  assertEquals(hook.to(), ["ops"]);
  await notifier.enqueue(sampleDown());
  assertEquals(await deliverDue(opts), [], "nothing left after a third enqueue");
  assertEquals(email.sent.length + hook.sent.length, 3);
  assertEquals(email.sent[0]!.createdAt, T0);
  assertEquals(email.sent[0]!.notification, sampleDown());
  ok(
    log.lines.some((l) =>
      l.startsWith("INFO dmonitor.alerts alert delivered recipient=email:a@example.com")
    ),
  );
});

Deno.test("outbox: one failing recipient does not block the others, and retries with backoff", async () => {
  await using t = await tempDb();
  const clock = manualClock();
  const outbox = new Outbox(t.db);
  outbox.enqueue(sampleDown(), targets.slice(0, 2), clock.now());
  let bFails = 2;
  const email = recorder((m) =>
    m.target.name === "b@example.com" && bFails-- > 0 ? new Error("451 try later") : "250 ok"
  );
  const opts = { db: t.db, channels: { email: email.channel }, clock, log: memoryLogger() };
  const outcomes = async () => (await deliverDue(opts)).map((a) => `${a.row.target} ${a.outcome}`);
  assertEquals(await outcomes(), ["a@example.com sent", "b@example.com retry"]);
  const [b] = outbox.list(["pending"]);
  assertEquals([b!.attempts, b!.nextAt - clock.now(), b!.lastError], [
    1,
    backoff(1),
    "451 try later",
  ]);
  clock.advance(backoff(1) - 1);
  assertEquals(await outcomes(), [], "not due before its backoff");
  clock.advance(1);
  assertEquals(await outcomes(), ["b@example.com retry"]);
  clock.advance(backoff(2));
  assertEquals(await outcomes(), ["b@example.com sent"]);
  assertEquals(email.to(), ["a@example.com", "b@example.com"]);
  assertEquals(outbox.list(["pending", "failed"]), []);
});

Deno.test("outbox: a permanent rejection or too many attempts stays visible as failed", async () => {
  await using t = await tempDb();
  const clock = manualClock();
  const outbox = new Outbox(t.db);
  outbox.enqueue(sampleDown(), targets.slice(0, 2), clock.now());
  const email = recorder((m) =>
    m.target.name === "a@example.com"
      ? new DeliveryError("SMTP 550 mailbox unavailable", true)
      : new Error("connection refused")
  );
  const opts = {
    db: t.db,
    channels: { email: email.channel },
    clock,
    maxAttempts: 3,
    log: memoryLogger(),
  };
  await deliverDue(opts);
  for (let i = 0; i < 5; i++) {
    clock.advance(backoff(10));
    await deliverDue(opts);
  }
  const failed = outbox.list(["failed"]);
  assertEquals(failed.map((r) => [r.target, r.attempts, r.lastError]), [
    ["a@example.com", 1, "SMTP 550 mailbox unavailable"],
    ["b@example.com", 3, "gave up after 3 attempts: connection refused"],
  ]);
  assertEquals(outbox.retryFailed([failed[1]!.id], clock.now()), 1, "an operator can retry one");
  assertEquals(outbox.list(["pending"]).map((r) => [r.target, r.attempts]), [["b@example.com", 0]]);
});

Deno.test("outbox: a target whose channel is gone fails at once instead of looping", async () => {
  await using t = await tempDb();
  new Outbox(t.db).enqueue(sampleDown(), [{ channel: "webhook", name: "removed" }], T0);
  const [a] = await deliverDue({
    db: t.db,
    channels: {},
    clock: manualClock(),
    log: memoryLogger(),
  });
  assertEquals([a!.outcome, a!.detail], ["failed", "no webhook channel is configured"]);
});

Deno.test("outbox: pending rows survive closing and reopening the database", async () => {
  await using t = await tempDb();
  const n = await createNotifier({
    db: t.db,
    targets: () => targets.slice(0, 1),
    log: memoryLogger(),
  })
    .enqueue(sampleDown());
  assertEquals(n.queued, 1);
  t.db.close();
  const db = new DatabaseSync(t.path);
  try {
    const email = recorder();
    await deliverDue({ db, channels: { email: email.channel }, log: memoryLogger() });
    assertEquals(email.to(), ["a@example.com"]);
  } finally {
    db.close();
  }
});

Deno.test("notifier: silences mute downs, and the recovery of a muted down", async () => {
  await using t = await tempDb();
  const clock = manualClock();
  const silences: Silence[] = [
    {
      host: "www.example.com",
      test: null,
      until: T0 + 60_000,
      reason: "",
      file: "silence.d/www.example.com",
    },
  ];
  const log = memoryLogger();
  const notifier = createNotifier({
    db: t.db,
    targets: () => targets,
    silences: () => silences,
    clock,
    log,
  });
  const down = await notifier.enqueue(sampleDown());
  assertEquals([down.queued, down.muted, down.mutedBy?.file], [
    3,
    true,
    "silence.d/www.example.com",
  ]);
  clock.advance(120_000);
  const rec = await notifier.enqueue(
    sampleDown({ id: "n-rec", kind: "recovered", endedAt: clock.now() }),
  );
  assertEquals(
    [rec.muted, rec.mutedBy],
    [true, null],
    "silence over, but nobody heard of the down",
  );
  const other = await notifier.enqueue(sampleDown({ id: "n-2", incidentId: "inc-43" }));
  assertEquals(other.muted, false, "after the silence ends, a new incident pages");
  const outbox = new Outbox(t.db);
  assertEquals(outbox.list(["muted"]).length, 6);
  assertEquals(
    outbox.list(["muted"])[0]!.lastError,
    "muted by silence.d/www.example.com until 2025-03-01 12:01:00 UTC",
  );
  assertEquals(outbox.list(["pending"]).length, 3);
  ok(log.lines.some((l) => l.startsWith("INFO dmonitor.alerts notification muted kind=down")));
});

Deno.test("notifier: a reminder after the silence announces the outage, so its recovery goes out", async () => {
  await using t = await tempDb();
  const clock = manualClock();
  const silences: Silence[] = [
    {
      host: "www.example.com",
      test: "ssh",
      until: T0 + 60_000,
      reason: "",
      file: "silence.d/www.example.com/ssh",
    },
  ];
  const notifier = createNotifier({
    db: t.db,
    targets: () => targets.slice(0, 1),
    silences: () => silences,
    clock,
    log: memoryLogger(),
  });
  assertEquals((await notifier.enqueue(sampleDown())).muted, true);
  clock.advance(3_600_000);
  const reminder = await notifier.enqueue(sampleDown({ id: "n-rem", kind: "reminder" }));
  assertEquals(reminder.muted, false, "still down after the silence: the reminder goes out");
  const rec = await notifier.enqueue(
    sampleDown({ id: "n-rec", kind: "recovered", endedAt: clock.now() }),
  );
  assertEquals(rec.muted, false);
  assertEquals(new Outbox(t.db).list(["pending"]).map((r) => r.kind), ["reminder", "recovered"]);
});

Deno.test("notifier: with no target at all the notification is recorded as failed", async () => {
  await using t = await tempDb();
  const log = memoryLogger();
  await createNotifier({ db: t.db, targets: () => [], log }).enqueue(sampleDown());
  const [row] = new Outbox(t.db).list();
  assertEquals([row!.status, row!.recipient, row!.lastError], [
    "failed",
    "none:",
    "no alert target configured in alert.d/",
  ]);
  ok(log.lines.some((l) => l.startsWith("ERROR dmonitor.alerts no alert target configured")));
});

async function until(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

Deno.test("runOutbox: wakes on enqueue, sleeps until the retry is due, stops on abort", async () => {
  await using t = await tempDb();
  const clock = manualClock();
  const email = recorder((_m, n) => n === 1 ? new Error("421 busy") : "250 ok");
  let calls = 0;
  const channel: Channel = { send: (m, s) => (calls++, email.channel.send(m, s)) };
  const stop = new AbortController();
  const loop = runOutbox({
    db: t.db,
    channels: () => ({ email: channel }),
    clock,
    signal: stop.signal,
    log: memoryLogger(),
  });
  await until(() => clock.sleepers() === 1, "the loop to sleep on an empty outbox");
  await createNotifier({ db: t.db, targets: () => targets.slice(0, 1), clock, log: memoryLogger() })
    .enqueue(sampleDown());
  await until(() => calls === 1, "the first attempt after the wake-up");
  await until(() => clock.sleepers() === 1, "the loop to sleep until the retry");
  assertEquals(email.sent.length, 0);
  clock.advance(backoff(1));
  await until(() => email.sent.length === 1, "the retry");
  stop.abort();
  await loop;
  assertEquals(calls, 2);
});

Deno.test("runOutbox: a send cut short by shutdown is retried on the next start", async () => {
  await using t = await tempDb();
  new Outbox(t.db).enqueue(sampleDown(), targets.slice(0, 1), T0);
  const stop = new AbortController();
  let started = false;
  const hang: Channel = { send: () => (started = true, new Promise(() => {})) };
  const loop = runOutbox({
    db: t.db,
    channels: { email: hang },
    clock: manualClock(),
    signal: stop.signal,
    log: memoryLogger(),
  });
  await until(() => started, "the send to start");
  stop.abort();
  await loop;
  const [row] = new Outbox(t.db).list(["pending"]);
  assertEquals([row!.attempts, row!.nextAt], [1, T0]);
  const email = recorder();
  await deliverDue({
    db: t.db,
    channels: { email: email.channel },
    clock: manualClock(),
    log: memoryLogger(),
  });
  assertEquals(email.to(), ["a@example.com"]);
});

Deno.test("outbox: prune drops old sent rows and keeps failed ones", async () => {
  await using t = await tempDb();
  const outbox = new Outbox(t.db);
  outbox.enqueue(sampleDown(), targets.slice(0, 2), T0);
  const [a, b] = outbox.list(["pending"]);
  outbox.markSent(a!.id, T0, "250 ok");
  outbox.markFailed(b!.id, "550");
  assertEquals(outbox.prune(T0 + 1), 1);
  assertEquals(outbox.list(["sent", "failed"]).map((r) => r.status), ["failed"]);
});

Deno.test("outbox: a database from before lease_pid gets the columns; resumeInterrupted frees only gone holders' rows", async () => {
  await using t = await tempDb();
  // The table as older versions created it (no lease_pid, no lease_start).
  t.db.exec(`CREATE TABLE alert_outbox (id INTEGER PRIMARY KEY, notification_id TEXT NOT NULL,
    recipient TEXT NOT NULL, channel TEXT NOT NULL, target TEXT NOT NULL, incident_id TEXT NOT NULL,
    kind TEXT NOT NULL, host TEXT NOT NULL, test TEXT NOT NULL, summary TEXT NOT NULL,
    payload TEXT NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL, next_at INTEGER NOT NULL, sent_at INTEGER, last_error TEXT,
    receipt TEXT, UNIQUE (notification_id, recipient))`);
  const outbox = new Outbox(t.db);
  const five: Target[] = ["a@x", "b@x", "c@x", "d@x", "e@x"].map((name) => ({
    channel: "email",
    name,
  }));
  outbox.enqueue(sampleDown(), five, T0);
  const [a, b, c, d, e] = outbox.list(["pending"]);
  const me = selfHolder();
  assertEquals(me.pid, Deno.pid);
  assertEquals(typeof me.start, "number", "this process's start time, from /proc");
  outbox.claim(a!.id, T0 + 180_000, { pid: 999_001, start: 50 }); // a process gone
  outbox.claim(b!.id, T0 + 180_000, { pid: 999_002, start: 60 }); // one still running
  outbox.claim(c!.id, T0 + 180_000); // this process
  // An earlier run that had this process's pid (a restart in a container: PID 1 again).
  outbox.claim(d!.id, T0 + 180_000, { pid: Deno.pid, start: me.start! - 1 });
  // A row from before lease_start, of a process that still runs.
  outbox.claim(e!.id, T0 + 180_000, { pid: 999_002, start: null });
  const startOf = (pid: number) => pid === 999_002 ? 60 : pid === Deno.pid ? me.start : null;
  assertEquals(outbox.resumeInterrupted(T0 + 5, startOf), 2);
  const rows = outbox.list(["pending"]);
  assertEquals(rows.map((r) => r.nextAt), [
    T0 + 5,
    T0 + 180_000,
    T0 + 180_000,
    T0 + 5,
    T0 + 180_000,
  ]);
  assertEquals(rows[0]!.lastError, "interrupted: the process sending it stopped");
  assertEquals(outbox.resumeInterrupted(T0 + 6, startOf), 0, "freed once");
  // Without /proc nothing can be told apart: every lease runs out as before.
  outbox.claim(a!.id, T0 + 180_000, { pid: 999_001, start: 50 });
  assertEquals(outbox.resumeInterrupted(T0 + 7, () => undefined), 0);
  // The real /proc: pids 999_001 and 999_002 are not running here (a, b and e go), this process
  // started when it says (c stays).
  assertEquals(procStart(999_001), null);
  assertEquals(procStart(Deno.pid), me.start);
  assertEquals(outbox.resumeInterrupted(T0 + 8), 3);
  assertEquals(outbox.list(["pending"]).filter((r) => r.nextAt === T0 + 180_000).length, 1);
});
