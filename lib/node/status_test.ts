import assert from "node:assert/strict";
import type { OutboxRow } from "../alerts/mod.ts";
import { noticeText, notifiedText } from "../status/format.ts";
import { join } from "node:path";
import { StateStore } from "../store/mod.ts";
import type { Consensus } from "./consensus.ts";
import { loadNodeConfig } from "./load.ts";
import { nodeStatusSource, noticeOf } from "./status.ts";

const T0 = Date.UTC(2025, 10, 21, 9, 30, 0);

function row(over: Partial<OutboxRow>): OutboxRow {
  return {
    id: 1,
    notificationId: "inc-1/down",
    recipient: "email:ops@example.com",
    channel: "email",
    target: "ops@example.com",
    incidentId: "inc-1",
    kind: "down",
    host: "db.example.com",
    test: "tcp",
    summary: "DOWN db.example.com tcp",
    payload: "{}",
    status: "pending",
    attempts: 0,
    createdAt: T0 - 60_000,
    nextAt: T0 - 60_000,
    sentAt: null,
    lastError: null,
    receipt: null,
    ...over,
  };
}

Deno.test("noticeOf and noticeText: each outbox row says what became of it, exactly", () => {
  const now = T0;
  const cases: [Partial<OutboxRow>, string][] = [
    [{}, "down to email:ops@example.com queued"],
    [
      { attempts: 2, lastError: "connect ECONNREFUSED", nextAt: T0 + 30_000 },
      "down to email:ops@example.com not delivered yet: connect ECONNREFUSED; next try in 30s (2025-11-21T09:30:30Z)",
    ],
    [
      { status: "failed", attempts: 8, lastError: "550 no such user" },
      "down to email:ops@example.com FAILED after 8 tries: 550 no such user",
    ],
    [
      { status: "sent", attempts: 1, sentAt: T0 - 120_000 },
      "down to email:ops@example.com delivered 2m ago (2025-11-21T09:28:00Z) by alpha",
    ],
    [
      { status: "muted", lastError: "muted by silence.d/db.example.com" },
      "down to email:ops@example.com muted: muted by silence.d/db.example.com",
    ],
    [
      { status: "muted", lastError: "not routed: tests other" },
      "down to email:ops@example.com not routed (tests other)",
    ],
    [
      { nextAt: T0 + 600_000 },
      "down to email:ops@example.com queued, due in 10m (2025-11-21T09:40:00Z)",
    ],
    [
      {
        status: "failed",
        channel: "none",
        recipient: "none:",
        lastError: "no alert target configured in alert.d/",
      },
      "down NOT SENT: no recipients (no alert target configured in alert.d/)",
    ],
  ];
  for (const [over, want] of cases) {
    assert.equal(noticeText(noticeOf(row(over), "alpha"), now), want);
  }
  // Another node's outbox took it: this node says only that.
  assert.equal(
    noticeText({
      kind: "down",
      recipient: null,
      state: "queued",
      at: T0,
      nextAt: null,
      by: "beta",
      attempts: 0,
      lastError: null,
    }, now),
    "down queued on beta (that node's outbox delivers it)",
  );
});

Deno.test("notifiedText: notified only when delivered", () => {
  const inc = (states: OutboxRow["status"][], channel: OutboxRow["channel"] = "email") => {
    const notices = states.map((status) => noticeOf(row({ status, channel, lastError: "x" }), "a"));
    return {
      id: "i",
      host: "h",
      test: "t",
      state: "down",
      since: T0,
      votes: [],
      notifier: "a",
      notified: notices.some((n) => n.state === "delivered"),
      notices,
      site: null,
    };
  };
  assert.equal(notifiedText(inc(["sent", "failed"])), "notified");
  assert.equal(notifiedText(inc(["failed"], "none")), "NOT NOTIFIED: no recipients");
  assert.equal(notifiedText(inc(["failed", "failed"])), "NOT NOTIFIED: delivery failed");
  assert.equal(notifiedText(inc(["pending"])), "not delivered yet, retrying");
  assert.equal(notifiedText(inc(["muted"])), "muted");
  assert.equal(notifiedText(inc([])), "not notified yet");
});

Deno.test("nodeStatusSource: a per-check page reads that check alone, not every check and incident", async () => {
  const root = await Deno.makeTempDir({ prefix: "dmonitor-status-source-" });
  try {
    await Deno.writeTextFile(
      join(root, "dmonitor.yaml"),
      `node: alpha\nlisten: 127.0.0.1:2929\nstate_dir: ${join(root, "state")}\n`,
    );
    for (const host of ["10.0.0.1", "10.0.0.2", "10.0.0.3"]) {
      await Deno.mkdir(join(root, "hosts.d", host), { recursive: true });
      await Deno.writeTextFile(join(root, "hosts.d", host, "tcp"), "port: 22\n");
    }
    const config = await loadNodeConfig(root);
    const store = StateStore.open(join(root, "state"));
    try {
      for (const host of ["10.0.0.1", "10.0.0.2", "10.0.0.3"]) {
        store.record({
          host,
          test: "tcp",
          status: host === "10.0.0.2" ? "FAIL" : "OK",
          state: host === "10.0.0.2" ? "FAIL" : "OK",
          output: `probe of ${host}`,
          perfdata: "",
          exitCode: null,
          startedAt: Date.now() - 1000,
          durationMs: 3,
        });
      }
      const asked: string[] = [];
      const consensus = {
        states: () => assert.fail("the per-check page copied every incident state"),
        state: (host: string, test: string) => (asked.push(`${host}/${test}`), null),
        peerHealth: () => [],
        degraded: () => false,
        peerErrors: () => new Map<string, number>(),
        rpc: undefined,
      } as unknown as Consensus;
      const source = nodeStatusSource({
        store,
        config: () => config,
        consensus: () => consensus,
        version: "test",
        startedAt: Date.now(),
      });
      const lastAll = store.lastAll.bind(store);
      store.lastAll = () => assert.fail("the per-check page read every check's last result");
      const page = source.check!("10.0.0.2", "tcp");
      assert.ok(page);
      assert.equal(page.check.status, "FAIL");
      assert.equal(page.check.output, "probe of 10.0.0.2");
      assert.deepEqual(asked, ["10.0.0.2/tcp"]);
      assert.equal(source.check!("10.0.0.9", "tcp"), null);
      // The whole page still reads everything.
      store.lastAll = lastAll;
      consensus.states = () => [];
      assert.deepEqual(source.view().checks.map((c) => c.status), ["OK", "FAIL", "OK"]);
    } finally {
      store.close();
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
