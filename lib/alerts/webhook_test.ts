import { deepStrictEqual as assertEquals, ok, rejects } from "node:assert/strict";
import { memoryLogger } from "../log/mod.ts";
import { backoff } from "./backoff.ts";
import { deliverDue } from "./deliver.ts";
import { createNotifier } from "./notifier.ts";
import { Outbox } from "./outbox.ts";
import { renderWebhookPayload } from "./payload.ts";
import { createWebhookChannel } from "./webhook.ts";
import { manualClock, sampleDown, startReceiver, T0, tempDb } from "./testing.ts";
import { DeliveryError, type Message } from "./types.ts";

function message(name = "ops"): Message {
  return { notification: sampleDown(), target: { channel: "webhook", name }, createdAt: T0 };
}
const signal = new AbortController().signal;

Deno.test("webhook + outbox: a receiver answering 500 then 200 gets the document, once accepted", async () => {
  await using receiver = startReceiver((n) => n === 1 ? 500 : 200);
  await using t = await tempDb();
  const clock = manualClock();
  const log = memoryLogger();
  await createNotifier({
    db: t.db,
    targets: () => [{ channel: "webhook", name: "ops" }],
    clock,
    log,
  })
    .enqueue(sampleDown());
  const webhook = createWebhookChannel({
    webhooks: [{ name: "ops", url: receiver.url, file: "alert.d/ops.webhook" }],
  });
  const opts = { db: t.db, channels: { webhook }, clock, log };
  const [first] = await deliverDue(opts);
  assertEquals([first!.outcome, first!.detail], [
    "retry",
    `alert.d/ops.webhook (${receiver.url}) answered HTTP 500 status 500`,
  ]);
  clock.advance(backoff(1));
  const [second] = await deliverDue(opts);
  assertEquals([second!.outcome, second!.detail], ["sent", "HTTP 200 ok"]);
  clock.advance(backoff(5));
  assertEquals(await deliverDue(opts), []);
  assertEquals(receiver.requests.length, 2);
  for (const req of receiver.requests) {
    assertEquals([req.method, req.path], ["POST", "/hook"]);
    assertEquals(req.headers.get("content-type"), "application/json");
    assertEquals(req.headers.get("idempotency-key"), "n-down-1:ops");
    assertEquals(JSON.parse(req.body), renderWebhookPayload(sampleDown()));
  }
  assertEquals(new Outbox(t.db).list(["pending", "failed"]), []);
});

Deno.test("webhook: a 4xx or a redirect is final, a 429 is retried", async () => {
  const answers: (number | "redirect")[] = [404, "redirect", 429];
  await using receiver = startReceiver((n) => answers[n - 1]!);
  const webhook = createWebhookChannel({
    webhooks: [{ name: "ops", url: receiver.url, file: "" }],
  });
  for (const permanent of [true, true, false]) {
    await rejects(webhook.send(message(), signal), (e: DeliveryError) => e.permanent === permanent);
  }
  await rejects(webhook.send(message("gone"), signal), /webhook 'gone' is no longer configured/);
  assertEquals(receiver.requests.length, 3, "the redirect was not followed");
});

Deno.test("webhook: credentials in the URL become Basic auth and never reach messages", async () => {
  await using receiver = startReceiver(() => 503);
  const url = receiver.url.replace("http://", "http://bot:p%40ss@") + "?token=abc";
  const webhook = createWebhookChannel({ webhooks: [{ name: "ops", url, file: "" }] });
  await rejects(webhook.send(message(), signal), (e: DeliveryError) => {
    ok(!e.message.includes("p%40ss") && !e.message.includes("abc"), e.message);
    return !e.permanent;
  });
  assertEquals(receiver.requests[0]!.headers.get("authorization"), `Basic ${btoa("bot:p@ss")}`);
});

Deno.test("webhook: a receiver that never answers times out and is retried", async () => {
  await using receiver = startReceiver(() => "hang");
  const webhook = createWebhookChannel({
    webhooks: [{ name: "ops", url: receiver.url, file: "" }],
    timeoutMs: 200,
  });
  await rejects(webhook.send(message(), signal), (e: DeliveryError) => {
    ok(e.message.startsWith("Cannot POST to alert.d/ops.webhook"), e.message);
    return !e.permanent;
  });
});

Deno.test("webhook: nothing listening is a temporary failure", async () => {
  const receiver = startReceiver();
  const url = receiver.url;
  await receiver[Symbol.asyncDispose]();
  const webhook = createWebhookChannel({ webhooks: [{ name: "ops", url, file: "" }] });
  await rejects(webhook.send(message(), signal), (e: DeliveryError) => !e.permanent);
});
