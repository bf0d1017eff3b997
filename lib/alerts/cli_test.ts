import { deepStrictEqual as assertEquals, ok, rejects } from "node:assert/strict";
import { ConfigError } from "../errors/mod.ts";
import { buildChannels } from "./channels.ts";
import { trustedTempDir } from "../runner/testing.ts";
import { formatOutbox, formatTestResults, listOutbox, retryOutbox, sendTestAlert } from "./cli.ts";
import { Outbox } from "./outbox.ts";
import { type AlertSettings, alertTargets, parseAlertSettings } from "./settings.ts";
import {
  CA_FILE,
  header,
  sampleDown,
  startReceiver,
  startSmtpServer,
  T0,
  tempDb,
  TESTDATA,
} from "./testing.ts";

Deno.test("formatOutbox: pending and failed rows, exact text", async () => {
  await using t = await tempDb();
  const outbox = new Outbox(t.db);
  outbox.enqueue(sampleDown(), [
    { channel: "email", name: "ops@example.com" },
    { channel: "webhook", name: "chat" },
    { channel: "email", name: "ann@example.com" },
  ], T0);
  const [a, b, c] = outbox.list();
  outbox.claim(a!.id, T0);
  outbox.markRetry(
    a!.id,
    T0 + 30_000,
    "Cannot reach SMTP server localhost:25: connect ECONNREFUSED",
  );
  outbox.claim(b!.id, T0);
  outbox.markFailed(
    b!.id,
    "alert.d/chat.webhook (https://chat.example.com/hooks) answered HTTP 404",
  );
  outbox.markSent(c!.id, T0 + 1_000, "250 ok");
  assertEquals(
    formatOutbox(listOutbox(t.db), T0),
    [
      "1 pending, 1 failed",
      "ID  STATUS   TRIES  NEXT/SENT                RECIPIENT              SUBJECT                                         LAST ERROR",
      "1   pending  1      2025-03-01 12:00:30 UTC  email:ops@example.com  DOWN www.example.com ssh (confirmed by 2 of 3)  Cannot reach SMTP server localhost:25: connect ECONNREFUSED",
      "2   failed   1      -                        webhook:chat           DOWN www.example.com ssh (confirmed by 2 of 3)  alert.d/chat.webhook (https://chat.example.com/hooks) answered HTTP 404",
      "",
    ].join("\n"),
  );
  assertEquals(listOutbox(t.db, { all: true }).length, 3);
  assertEquals(
    formatOutbox(listOutbox(t.db, { all: true }), T0 + 60_000).split("\n")[0],
    "1 pending, 1 failed, 1 sent",
  );
  assertEquals(retryOutbox(t.db, "all", T0), { queued: 1, problems: [] });
  assertEquals(formatOutbox([], T0), "Outbox empty: nothing pending or failed.\n");
});

Deno.test("retryOutbox by ID: failed, waiting, no-recipient, sent and unknown rows", async () => {
  await using t = await tempDb();
  const outbox = new Outbox(t.db);
  outbox.enqueue(sampleDown(), [
    { channel: "email", name: "ops@example.com" },
    { channel: "webhook", name: "chat" },
    { channel: "email", name: "ann@example.com" },
  ], T0);
  const [a, b, c] = outbox.list();
  outbox.claim(a!.id, T0);
  outbox.markRetry(a!.id, T0 + 600_000, "connect ECONNREFUSED");
  outbox.claim(b!.id, T0);
  outbox.markFailed(b!.id, "answered HTTP 404");
  outbox.markSent(c!.id, T0 + 1_000, "250 ok");
  const none = { ...sampleDown(), id: "n-2", incidentId: "inc-2" };
  outbox.recordUndeliverable(none, T0, "no alert target configured in alert.d/");
  const d = outbox.list(["failed"]).find((r) => r.channel === "none")!;

  // The failed row goes back to pending with a fresh count; the waiting one becomes due now.
  assertEquals(retryOutbox(t.db, [b!.id, a!.id], T0 + 5), { queued: 2, problems: [] });
  assertEquals(outbox.due(T0 + 5).map((r) => [r.id, r.attempts]), [[a!.id, 1], [b!.id, 0]]);
  // With nobody configured, a no-recipient row says so and stays.
  assertEquals(retryOutbox(t.db, [d.id], T0).problems.length, 1);
  ok(retryOutbox(t.db, [d.id], T0).problems[0]!.includes("no recipient"));
  // Once alert.d/ has targets, it is queued for each of them and the placeholder goes.
  const now = [{ channel: "email" as const, name: "new@example.com" }];
  assertEquals(retryOutbox(t.db, [d.id], T0 + 9, now), { queued: 1, problems: [] });
  assertEquals(outbox.byNotification("n-2").map((r) => [r.recipient, r.status]), [
    ["email:new@example.com", "pending"],
  ]);
  assertEquals(retryOutbox(t.db, [c!.id, 999], T0).problems, [
    `message ${c!.id} was already delivered (email:ann@example.com)`,
    "no message 999 in the outbox",
  ]);
});

Deno.test("formatTestResults: one line per target and a total", () => {
  assertEquals(
    formatTestResults([
      { target: "email:ops@example.com", ok: true, detail: "250 Accepted", ms: 12 },
      { target: "webhook:chat", ok: false, detail: "answered HTTP 500", ms: 3 },
    ]),
    "ok    email:ops@example.com  250 Accepted (12 ms)\n" +
      "FAIL  webhook:chat           answered HTTP 500 (3 ms)\n" +
      "1 of 2 targets failed\n",
  );
  ok(formatTestResults([]).startsWith("No alert target configured"));
});

async function tree(smtp: Record<string, unknown>, alertFiles: Record<string, string>) {
  // Not under /tmp: commands must pass the plugin trust rules (lib/runner/trust.ts).
  const root = await trustedTempDir("dmonitor-tree-");
  await Deno.mkdir(`${root}/alert.d`, { mode: 0o755 });
  for (const [name, body] of Object.entries(alertFiles)) {
    await Deno.writeTextFile(`${root}/alert.d/${name}`, body);
    await Deno.chmod(`${root}/alert.d/${name}`, 0o755);
  }
  const { settings, problems } = parseAlertSettings(smtp, {
    root,
    recipients: [{ kind: "email", address: "ops@example.com", file: "alert.d/ops@example.com" }],
    alertFiles,
    settings: { node: "node1", plugin_user: "nobody" },
  });
  assertEquals(problems, []);
  return {
    root,
    settings,
    [Symbol.asyncDispose]: () => Deno.remove(root, { recursive: true }),
  } as { root: string; settings: AlertSettings } & AsyncDisposable;
}

Deno.test("sendTestAlert: every configured channel, each with its own result", async () => {
  await using server = await startSmtpServer({ tls: "starttls", auth: { user: "u", pass: "p w" } });
  await using chat = startReceiver(() => 200);
  await using broken = startReceiver(() => 500);
  await using t = await tree({
    host: "127.0.0.1",
    port: server.port,
    user: "u",
    password_file: "smtp.pass",
    ca: CA_FILE,
  }, {
    "chat.webhook": chat.url,
    "broken.webhook": broken.url,
    "pager.command": await Deno.readTextFile(`${TESTDATA}echo.command`),
  });
  await Deno.writeTextFile(`${t.root}/smtp.pass`, "p w\n");
  const built = await buildChannels(t.settings);
  const results = await sendTestAlert(alertTargets(t.settings), built.channels, {
    node: "node1",
    now: T0,
  });
  built.close();
  assertEquals(results.map((r) => [r.target, r.ok]), [
    ["email:ops@example.com", true],
    ["webhook:broken", false],
    ["webhook:chat", true],
    ["command:pager", true],
  ]);
  ok(results[1]!.detail.endsWith("answered HTTP 500 status 500"), results[1]!.detail);
  assertEquals(header(server.mails[0]!.raw, "Subject"), "TEST dmonitor alert test from node1");
  assertEquals([server.mails[0]!.secure, server.mails[0]!.user], [true, "u"]);
  assertEquals(JSON.parse(chat.requests[0]!.body).kind, "test");
  ok(results[3]!.detail.startsWith('exit 0: {"schema":"dmonitor.notification/1","text":"TEST'));
});

Deno.test("buildChannels: unreadable files and unsafe commands are config errors", async () => {
  await using t = await tree(
    { user: "u", password_file: "missing.pass", ca: `${TESTDATA}echo.command` },
    { "pager.command": "#!/bin/sh\n" },
  );
  await Deno.chmod(`${t.root}/alert.d/pager.command`, 0o777);
  await rejects(buildChannels(t.settings), (e: ConfigError) => {
    assertEquals(e.message.split("\n"), [
      `dmonitor.yaml: 'smtp.password_file' cannot be read: ${t.root}/missing.pass does not exist`,
      `dmonitor.yaml: 'smtp.ca' must be a PEM certificate file, got "${TESTDATA}echo.command"`,
      `alert.d/pager.command: ${t.root}/alert.d/pager.command is writable by group and others ` +
      "(mode 0777); run chmod go-w on it",
    ]);
    return true;
  });
});

Deno.test("Outbox.depth: pending and failed counts and the oldest pending, from SQL", async () => {
  await using t = await tempDb();
  const outbox = new Outbox(t.db);
  assertEquals(outbox.depth(), { pending: 0, failed: 0, oldest: null });
  outbox.enqueue(sampleDown(), [{ channel: "email", name: "a@example.com" }], T0);
  outbox.enqueue(sampleDown({ id: "n-down-2" }), [
    { channel: "email", name: "a@example.com" },
    { channel: "email", name: "b@example.com" },
  ], T0 + 5_000);
  const [first, , third] = outbox.list();
  outbox.claim(first!.id, T0);
  outbox.markFailed(first!.id, "550 no such user");
  outbox.claim(third!.id, T0);
  outbox.markSent(third!.id, T0 + 6_000, "250 ok");
  assertEquals(outbox.depth(), { pending: 1, failed: 1, oldest: T0 + 5_000 });
});
