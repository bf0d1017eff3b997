import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { memoryLogger } from "../log/mod.ts";
import {
  alertLabels,
  createAlertmanagerChannel,
  FIRING_FOR_MS,
  renderAlertmanagerAlert,
  REPOST_MS,
} from "./alertmanager.ts";
import { alertmanagerMissing, startAlertmanager, until } from "./alertmanager_testing.ts";
import { sendTestAlert } from "./cli.ts";
import { deliverDue, runOutbox } from "./deliver.ts";
import { FiringStore, type IncidentOpen } from "./firing.ts";
import { createNotifier } from "./notifier.ts";
import { Outbox } from "./outbox.ts";
import { parseAlertmanagerFile } from "./settings.ts";
import { manualClock, sampleDown, T0, tempDb } from "./testing.ts";

const ADDR = "127.0.116.1";
const missing = await alertmanagerMissing();
if (missing) console.warn(`SKIPPING real Alertmanager tests: ${missing}`);
const real = { ignore: missing !== null, sanitizeResources: false, sanitizeOps: false };

Deno.test("alertmanager file: URLs one a line, comments, duplicates and bad lines", () => {
  const cases: [string, unknown][] = [
    ["http://10.0.0.5:9093\n", { urls: ["http://10.0.0.5:9093/"] }],
    [
      "# HA pair\nhttp://10.0.0.5:9093/\n\n  https://10.0.0.6:9093/am/ \n",
      { urls: ["http://10.0.0.5:9093/", "https://10.0.0.6:9093/am/"] },
    ],
    ["# nothing\n", { error: "must contain at least one Alertmanager URL, got none" }],
    ["ftp://10.0.0.5/\n", { error: 'must contain an http or https URL, got "ftp://10.0.0.5/"' }],
    ["http://a:1/\nhttp://a:1\n", { error: 'lists "http://a:1" twice' }],
    [
      "http://a:1/?x=1\n",
      { error: 'must be a base URL without query or fragment, got "http://a:1/?x=1"' },
    ],
  ];
  for (const [text, want] of cases) assertEquals(parseAlertmanagerFile(text), want, text);
});

Deno.test("alertmanager alert: labels name the outage only; endsAt ahead while down, at recovery after", () => {
  const down = sampleDown();
  const now = T0 + 10_000;
  const alert = renderAlertmanagerAlert(down, now);
  assertEquals(alert.labels, {
    alertname: "dmonitor_down",
    host: "www.example.com",
    test: "ssh",
    severity: "critical",
  });
  assertEquals(alert.startsAt, new Date(T0).toISOString());
  assertEquals(alert.endsAt, new Date(now + FIRING_FOR_MS).toISOString());
  assertEquals(alert.annotations.summary, "DOWN www.example.com ssh (confirmed by 2 of 3)");
  assertEquals(alert.annotations.output_node1, "FAIL connection refused");
  assertEquals(alert.annotations.output_node3_long, "OK SSH-2.0-OpenSSH_9.2");
  ok(alert.annotations.description!.includes("node2: TIMEOUT timed out after 10s"));
  // Another notifier, other votes, a reminder: still the same alert for Alertmanager.
  const other = sampleDown({ notifier: "node2", kind: "reminder", votes: [] });
  assertEquals(alertLabels(other), alert.labels);
  const rec = sampleDown({ kind: "recovered", endedAt: T0 + 60_000 });
  assertEquals(
    renderAlertmanagerAlert(rec, T0 + 90_000).endsAt,
    new Date(T0 + 60_000).toISOString(),
  );
  assertEquals(alertLabels(rec), alert.labels);
  assertEquals(alertLabels(sampleDown({ site: "plant-7" })).site, "plant-7");
  assertEquals(alertLabels({ ...down, kind: "test" }).alertname, "dmonitor_test");
});

/** The notifier, outbox and channel of one node posting to `urls`, on a clock at real time (an
 * endsAt in 2025 would be resolved on arrival). */
async function node(urls: string[], isOpen?: IncidentOpen) {
  const t = await tempDb();
  const clock = manualClock(Date.now());
  const log = memoryLogger();
  const notifier = createNotifier({
    db: t.db,
    targets: () => [{ channel: "alertmanager", name: "am" }],
    clock,
    log,
  });
  const alertmanager = createAlertmanagerChannel({
    alertmanagers: [{ name: "am", urls, file: "alert.d/am.alertmanager" }],
    clock,
  });
  const deliver = () => deliverDue({ db: t.db, channels: { alertmanager }, clock, log, isOpen });
  return { t, clock, log, notifier, alertmanager, deliver, firing: new FiringStore(t.db) };
}

Deno.test({
  name:
    "alertmanager + outbox: active while down, re-posted with endsAt moving on, ended at recovery",
  ...real,
  fn: async () => {
    await using am = await startAlertmanager(ADDR);
    const n = await node([am.url]);
    await using _t = n.t;
    const start = n.clock.now();
    await n.notifier.enqueue(sampleDown({ startedAt: start - 5_000 }));
    const [first] = await n.deliver();
    assertEquals(first!.outcome, "sent", first!.detail);
    ok(first!.detail.startsWith("1 of 1 accepted"), first!.detail);
    let [alert] = await am.alerts();
    assertEquals(alert!.status.state, "active");
    assertEquals(alert!.labels, alertLabels(sampleDown()));
    assertEquals(Date.parse(alert!.endsAt), start + FIRING_FOR_MS);
    assertEquals(n.firing.all().length, 1);

    n.clock.advance(REPOST_MS);
    await n.deliver();
    [alert] = await am.alerts();
    assertEquals(Date.parse(alert!.endsAt), start + REPOST_MS + FIRING_FOR_MS, "re-posted");

    // Real time: the manual clock runs ahead, and an endsAt in the future is still firing.
    const endedAt = Date.now();
    await n.notifier.enqueue(sampleDown({ id: "n-rec-1", kind: "recovered", endedAt }));
    const [rec] = await n.deliver();
    assertEquals(rec!.outcome, "sent", rec!.detail);
    assertEquals(await am.alerts(), [], "resolved: no longer listed");
    assertEquals(n.firing.all(), [], "re-posts stopped");
    n.clock.advance(10 * REPOST_MS);
    assertEquals(await n.deliver(), []);
    assertEquals(await am.alerts(), []);
  },
});

Deno.test({
  name:
    "alertmanager HA pair: one down still delivers; both down is retried; the late one catches up on re-post",
  ...real,
  fn: async () => {
    await using a = await startAlertmanager(ADDR);
    const b = await startAlertmanager("127.0.116.2");
    const bPort = b.port;
    await b.stop();
    const n = await node([a.url, `http://127.0.116.2:${bPort}/`]);
    await using _t = n.t;
    await n.notifier.enqueue(sampleDown());
    const [first] = await n.deliver();
    assertEquals(first!.outcome, "sent");
    ok(first!.detail.startsWith("1 of 2 accepted"), first!.detail);
    assertEquals((await a.alerts()).length, 1);

    await using b2 = await startAlertmanager("127.0.116.2", bPort);
    n.clock.advance(REPOST_MS);
    await n.deliver();
    assertEquals((await b2.alerts()).map((x) => x.labels), [alertLabels(sampleDown())]);

    await a.stop();
    await b2.stop();
    await n.notifier.enqueue(
      sampleDown({ id: "n-rec-1", kind: "recovered", endedAt: n.clock.now() }),
    );
    const [rec] = await n.deliver();
    assertEquals(rec!.outcome, "retry");
    ok(rec!.detail.includes("0 of 2 accepted"), rec!.detail);
  },
});

Deno.test({
  name: "alertmanager down at the start: the outbox holds the alert until it is back",
  ...real,
  fn: async () => {
    const probe = await startAlertmanager(ADDR);
    const port = probe.port;
    await probe.stop();
    const n = await node([`http://${ADDR}:${port}/`]);
    await using _t = n.t;
    await n.notifier.enqueue(sampleDown());
    const [down] = await n.deliver();
    assertEquals(down!.outcome, "retry");
    ok(down!.detail.includes("0 of 1 accepted"), down!.detail);
    await using am = await startAlertmanager(ADDR, port);
    n.clock.advance(60 * 60_000);
    const [sent] = await n.deliver();
    assertEquals(sent!.outcome, "sent");
    assertEquals((await am.alerts()).map((x) => x.status.state), ["active"]);
  },
});

Deno.test({
  name:
    "alertmanager down through a whole outage: down and recovery both held; it ends resolved, not firing",
  ...real,
  fn: async () => {
    const probe = await startAlertmanager(ADDR);
    const port = probe.port;
    await probe.stop();
    const n = await node([`http://${ADDR}:${port}/`]);
    await using _t = n.t;
    await n.notifier.enqueue(sampleDown());
    assertEquals((await n.deliver()).map((x) => x.outcome), ["retry"]);
    // The recovery is due before the down's retry: posted first, the down after it must not
    // revive the alert.
    await n.notifier.enqueue(
      sampleDown({ id: "n-rec-1", kind: "recovered", endedAt: n.clock.now() }),
    );
    await using am = await startAlertmanager(ADDR, port);
    n.clock.advance(60 * 60_000);
    const sent = await n.deliver();
    assertEquals(sent.map((x) => [x.row.kind, x.outcome]).sort(), [["down", "sent"], [
      "recovered",
      "sent",
    ]]);
    assertEquals(await am.alerts(), []);
    assertEquals(n.firing.all(), []);
  },
});

Deno.test({
  name:
    "alertmanager: re-posts survive a restart, and stop with an end when the consensus state closed the incident",
  ...real,
  fn: async () => {
    await using am = await startAlertmanager(ADDR);
    let open: ReturnType<IncidentOpen> = { open: true };
    const n = await node([am.url], () => open);
    await using _t = n.t;
    await n.notifier.enqueue(sampleDown());
    await n.deliver();
    n.t.db.close();
    // A new process on the same database: the firing row is still there and still re-posted.
    const db = new DatabaseSync(n.t.path);
    try {
      const alertmanager = n.alertmanager;
      const again = () =>
        deliverDue({
          db,
          channels: { alertmanager },
          clock: n.clock,
          log: n.log,
          isOpen: () => open,
        });
      n.clock.advance(REPOST_MS);
      await again();
      const [alert] = await am.alerts();
      assertEquals(Date.parse(alert!.endsAt), n.clock.now() + FIRING_FOR_MS);
      // Another node sent the recovery: this one learns it from the consensus state only.
      open = { open: false, endedAt: Date.now() - 1_000 };
      n.clock.advance(REPOST_MS);
      await again();
      assertEquals(await am.alerts(), []);
      assertEquals(new FiringStore(db).all(), []);
      assertEquals(new Outbox(db).list(["pending"]), []);
    } finally {
      db.close();
    }
  },
});

Deno.test({
  name: "alertmanager: alert test posts a test alert and resolves it; a refused post is reported",
  ...real,
  fn: async () => {
    await using am = await startAlertmanager(ADDR);
    const alertmanager = createAlertmanagerChannel({
      alertmanagers: [{ name: "am", urls: [am.url], file: "alert.d/am.alertmanager" }],
    });
    const [r] = await sendTestAlert([{ channel: "alertmanager", name: "am" }], { alertmanager }, {
      node: "node1",
    });
    ok(r!.ok, r!.detail);
    ok(/^posted 1 of 1 accepted: .*HTTP 200; resolved 1 of 1 accepted/.test(r!.detail), r!.detail);
    assertEquals(await am.alerts(), [], "the test alert is resolved at once");
    const gone = createAlertmanagerChannel({
      alertmanagers: [{ name: "am", urls: [`${am.url}nothing/`], file: "" }],
    });
    const [bad] = await sendTestAlert([{ channel: "alertmanager", name: "am" }], {
      alertmanager: gone,
    }, { node: "node1" });
    assertEquals(bad!.ok, false);
    ok(bad!.detail.includes("HTTP 404"), bad!.detail);
  },
});

Deno.test({
  name: "alertmanager + runOutbox: the running loop re-posts on its own and stops at recovery",
  ...real,
  fn: async () => {
    await using am = await startAlertmanager(ADDR);
    const n = await node([am.url]);
    await using _t = n.t;
    const stop = new AbortController();
    const loop = runOutbox({
      db: n.t.db,
      channels: { alertmanager: n.alertmanager },
      clock: n.clock,
      log: n.log,
      signal: stop.signal,
    });
    try {
      const start = n.clock.now();
      await n.notifier.enqueue(sampleDown());
      await until("the first post", async () => (await am.alerts()).length === 1);
      assertEquals(Date.parse((await am.alerts())[0]!.endsAt), start + FIRING_FOR_MS);
      await until("the loop asleep", () => n.clock.sleepers() > 0);
      n.clock.advance(REPOST_MS);
      await until(
        "the re-post",
        async () =>
          Date.parse((await am.alerts())[0]!.endsAt) === start + REPOST_MS + FIRING_FOR_MS,
      );
      await n.notifier.enqueue(
        sampleDown({ id: "n-rec-1", kind: "recovered", endedAt: Date.now() }),
      );
      await until("the end", async () => (await am.alerts()).length === 0);
      await until("re-posts stopped", () => n.firing.all().length === 0);
    } finally {
      stop.abort();
      await loop;
    }
  },
});
