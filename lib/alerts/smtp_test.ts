import { deepStrictEqual as assertEquals, ok, rejects } from "node:assert/strict";
import { memoryLogger } from "../log/mod.ts";
import { backoff } from "./backoff.ts";
import { deliverDue } from "./deliver.ts";
import { createNotifier } from "./notifier.ts";
import { Outbox } from "./outbox.ts";
import { messageId } from "./render.ts";
import { parseAlertSettings } from "./settings.ts";
import { createSmtpChannel } from "./smtp.ts";
import {
  CA_FILE,
  header,
  manualClock,
  sampleDown,
  startSmtpServer,
  T0,
  tempDb,
} from "./testing.ts";
import { DeliveryError, type Message } from "./types.ts";

const CA = Deno.readTextFileSync(CA_FILE);

function smtpSettings(smtp: Record<string, unknown>) {
  const { settings, problems } = parseAlertSettings(smtp, {
    root: "/etc/dmonitor",
    recipients: [],
    alertFiles: {},
    settings: { node: "node1.example.com", plugin_user: "nobody" },
  });
  assertEquals(problems, []);
  return settings.smtp;
}

function message(to: string): Message {
  return {
    notification: sampleDown(),
    target: { channel: "email", name: to },
    createdAt: T0 + 5_000,
  };
}

const signal = new AbortController().signal;

Deno.test("smtp: plain delivery to a local MTA with the defaults, proper headers", async () => {
  await using server = await startSmtpServer({ tls: "plain" });
  const channel = createSmtpChannel({
    smtp: smtpSettings({ host: "127.0.0.1", port: server.port }),
    password: null,
    ca: null,
  });
  const receipt = await channel.send(message("ops@example.com"), signal);
  ok(receipt.detail.startsWith("250"), receipt.detail);
  const [mail] = server.mails;
  assertEquals([mail!.from, mail!.to, mail!.secure, mail!.user], [
    "dmonitor@node1.example.com",
    ["ops@example.com"],
    false,
    null,
  ]);
  assertEquals(header(mail!.raw, "Subject"), "DOWN www.example.com ssh (confirmed by 2 of 3)");
  assertEquals(
    header(mail!.raw, "Message-ID"),
    messageId("n-down-1", "ops@example.com", "node1.example.com"),
  );
  assertEquals(header(mail!.raw, "Date"), "Sat, 01 Mar 2025 12:00:05 +0000");
  assertEquals(header(mail!.raw, "Auto-Submitted"), "auto-generated");
  ok(header(mail!.raw, "Content-Type")!.startsWith("text/plain"));
  ok(mail!.raw.includes("www.example.com ssh is DOWN: 2 of 3 nodes see it failing."));
  ok(mail!.raw.includes("connection refused"));
  channel.close();
});

Deno.test("smtp: STARTTLS required, verified with the testdata CA, then AUTH", async () => {
  await using server = await startSmtpServer({
    tls: "starttls",
    auth: { user: "dmonitor", pass: "s3cret" },
  });
  const smtp = smtpSettings({
    host: "127.0.0.1",
    port: server.port,
    user: "dmonitor",
    password: "s3cret",
    from: "Alerts <alerts@example.com>",
  });
  assertEquals(smtp.starttls, "required");
  const channel = createSmtpChannel({ smtp, password: "s3cret", ca: CA });
  await channel.send(message("ops@example.com"), signal);
  const [mail] = server.mails;
  assertEquals([mail!.secure, mail!.user, mail!.from], [true, "dmonitor", "alerts@example.com"]);
  assertEquals(header(mail!.raw, "From"), "Alerts <alerts@example.com>");
  channel.close();

  const wrong = createSmtpChannel({ smtp, password: "wrong", ca: CA });
  await rejects(wrong.send(message("ops@example.com"), signal), (e: DeliveryError) => {
    ok(e.message.includes("535"), e.message);
    assertEquals(e.permanent, false, "a bad password is the node's problem, retried");
    return true;
  });
  wrong.close();
  assertEquals(server.mails.length, 1);
});

Deno.test("smtp: required STARTTLS refuses a certificate from an unknown CA", async () => {
  await using server = await startSmtpServer({ tls: "starttls" });
  const channel = createSmtpChannel({
    smtp: smtpSettings({ host: "127.0.0.1", port: server.port, starttls: "required" }),
    password: null,
    ca: null,
  });
  await rejects(channel.send(message("ops@example.com"), signal), (e: DeliveryError) => {
    ok(/certificate/i.test(e.message), e.message);
    return e.permanent === false;
  });
  assertEquals(server.mails.length, 0);
  channel.close();
  // Opportunistic (the default without credentials) encrypts without verifying, like an MTA.
  const opportunistic = createSmtpChannel({
    smtp: smtpSettings({ host: "127.0.0.1", port: server.port }),
    password: null,
    ca: null,
  });
  await opportunistic.send(message("ops@example.com"), signal);
  assertEquals(server.mails[0]!.secure, true);
  opportunistic.close();
});

Deno.test("smtp: implicit TLS (secure: true) with a private CA", async () => {
  await using server = await startSmtpServer({ tls: "implicit" });
  const channel = createSmtpChannel({
    smtp: smtpSettings({ host: "127.0.0.1", port: server.port, secure: true }),
    password: null,
    ca: CA,
  });
  await channel.send(message("ops@example.com"), signal);
  assertEquals(server.mails[0]!.secure, true);
  channel.close();
});

Deno.test("smtp + outbox: one rejected recipient does not block the others", async () => {
  await using server = await startSmtpServer({
    reject: (a) => a.startsWith("gone@") ? 550 : a.startsWith("full@") ? 452 : null,
  });
  await using t = await tempDb();
  const clock = manualClock();
  const log = memoryLogger();
  const emails = ["ann@example.com", "gone@example.com", "full@example.com", "bob@example.com"];
  await createNotifier({
    db: t.db,
    targets: () => emails.map((name) => ({ channel: "email", name })),
    clock,
    log,
  }).enqueue(sampleDown());
  const channel = createSmtpChannel({
    smtp: smtpSettings({ host: "127.0.0.1", port: server.port }),
    password: null,
    ca: null,
  });
  const attempts = await deliverDue({ db: t.db, channels: { email: channel }, clock, log });
  assertEquals(attempts.map((a) => `${a.row.target} ${a.outcome}`).sort(), [
    "ann@example.com sent",
    "bob@example.com sent",
    "full@example.com retry",
    "gone@example.com failed",
  ]);
  assertEquals(server.mails.map((m) => m.to[0]).sort(), ["ann@example.com", "bob@example.com"]);
  const outbox = new Outbox(t.db);
  const [failed] = outbox.list(["failed"]);
  ok(failed!.lastError!.includes("550"), failed!.lastError!);
  assertEquals(outbox.list(["pending"]).map((r) => r.target), ["full@example.com"]);
  channel.close();
});

Deno.test("smtp + outbox: server down during the incident, back later: arrives once", async () => {
  const first = await startSmtpServer();
  const port = first.port;
  await first.close();
  await using t = await tempDb();
  const clock = manualClock();
  const log = memoryLogger();
  await createNotifier({
    db: t.db,
    targets: () => [{ channel: "email", name: "ops@example.com" }],
    clock,
    log,
  }).enqueue(sampleDown());
  const channel = createSmtpChannel({
    smtp: smtpSettings({ host: "127.0.0.1", port }),
    password: null,
    ca: null,
  });
  const opts = { db: t.db, channels: { email: channel }, clock, log };
  const [a] = await deliverDue(opts);
  assertEquals(a!.outcome, "retry");
  ok(a!.detail.startsWith(`Cannot reach SMTP server 127.0.0.1:${port}`), a!.detail);
  ok(log.lines.some((l) => l.includes("alert delivery failed, will retry")));
  await using server = await startSmtpServer({ port });
  assertEquals(await deliverDue(opts), [], "not before the backoff");
  clock.advance(backoff(1));
  assertEquals((await deliverDue(opts)).map((x) => x.outcome), ["sent"]);
  clock.advance(backoff(10));
  await createNotifier({
    db: t.db,
    targets: () => [{ channel: "email", name: "ops@example.com" }],
    clock,
    log,
  }).enqueue(sampleDown());
  assertEquals(await deliverDue(opts), []);
  assertEquals(server.mails.length, 1);
  assertEquals(
    header(server.mails[0]!.raw, "Date"),
    "Sat, 01 Mar 2025 12:00:00 +0000",
    "Date is when it was queued",
  );
  channel.close();
});
