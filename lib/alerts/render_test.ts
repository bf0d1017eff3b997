import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { renderWebhookPayload } from "./payload.ts";
import { formatDuration, formatMailDate, messageId, renderAlertMail } from "./render.ts";
import { sampleDown, T0 } from "./testing.ts";

const opts = { recipient: "ops@example.com", domain: "example.com", date: T0 + 5_000 };

Deno.test("formatDuration keeps the two most significant units", () => {
  const table: [number, string][] = [
    [0, "0s"],
    [999, "0s"],
    [45_000, "45s"],
    [60_000, "1m"],
    [725_000, "12m 5s"],
    [3_600_000, "1h"],
    [3_605_000, "1h"],
    [3_900_000, "1h 5m"],
    [86_400_000, "1d"],
    [2 * 86_400_000 + 3 * 3_600_000 + 59_000, "2d 3h"],
    [-5_000, "0s"],
  ];
  for (const [ms, want] of table) assertEquals(formatDuration(ms), want, `${ms} ms`);
});

Deno.test("formatMailDate is RFC 5322 with a numeric zone", () => {
  assertEquals(formatMailDate(T0 + 5_000), "Sat, 01 Mar 2025 12:00:05 +0000");
});

Deno.test("renderAlertMail: down mail, exact text and headers", () => {
  const mail = renderAlertMail(sampleDown(), opts);
  assertEquals(mail.subject, "DOWN www.example.com ssh (confirmed by 2 of 3)");
  assertEquals(
    mail.text,
    [
      "www.example.com ssh is DOWN: 2 of 3 nodes see it failing.",
      "",
      "Host:     www.example.com",
      "Test:     ssh",
      "Verdict:  DOWN, confirmed by 2 of 3 nodes",
      "Started:  2025-03-01 12:00:00 UTC",
      "Notifier: node1",
      "Incident: inc-42",
      "",
      "Results by node:",
      "  node1       FAIL     at 2025-03-01 12:00:03 UTC",
      "              connection refused",
      "  node2       TIMEOUT  at 2025-03-01 12:00:04 UTC",
      "              timed out after 10s",
      "  node3-long  OK       at 2025-03-01 12:00:04 UTC",
      "              SSH-2.0-OpenSSH_9.2",
      "",
      "-- ",
      "dmonitor on node1, notification n-down-1",
      "",
    ].join("\n"),
  );
  assertEquals(mail.headers, {
    "Message-ID": "<dmonitor.737a558b087b64b69686f21ebf9adb5d@example.com>",
    "Date": "Sat, 01 Mar 2025 12:00:05 +0000",
    "References": "<dmonitor.incident.3ece59a6598a3302b55089b50e77a32d@example.com>",
    "Auto-Submitted": "auto-generated",
    "X-Dmonitor-Kind": "down",
    "X-Dmonitor-Incident": "inc-42",
  });
});

Deno.test("renderAlertMail: recovery says how long it lasted, with the site", () => {
  const n = sampleDown({
    id: "n-rec-1",
    kind: "recovered",
    endedAt: T0 + 725_000,
    site: "branch",
    votes: [
      { node: "node1", status: "OK", output: "SSH-2.0-OpenSSH_9.2", at: T0 + 725_000 },
      { node: "node2", status: "OK", output: "banner\r\nsecond line\x1b[31m", at: T0 + 724_000 },
      { node: "node3", status: "UNREACHABLE", output: "", at: T0 + 726_000 },
    ],
  });
  const mail = renderAlertMail(n, opts);
  assertEquals(mail.subject, "[branch] RECOVERED www.example.com ssh after 12m 5s");
  assertEquals(
    mail.text,
    [
      "www.example.com ssh has RECOVERED after 12m 5s.",
      "",
      "Host:     www.example.com",
      "Test:     ssh",
      "Site:     branch",
      "Verdict:  RECOVERED, passing on 2 of 3 nodes",
      "Started:  2025-03-01 12:00:00 UTC",
      "Ended:    2025-03-01 12:12:05 UTC",
      "Lasted:   12m 5s",
      "Notifier: node1",
      "Incident: inc-42",
      "",
      "Results by node:",
      "  node1  OK           at 2025-03-01 12:12:05 UTC",
      "         SSH-2.0-OpenSSH_9.2",
      "  node2  OK           at 2025-03-01 12:12:04 UTC",
      "         banner",
      "         second line?[31m",
      "  node3  UNREACHABLE  at 2025-03-01 12:12:06 UTC",
      "         (no output)",
      "",
      "-- ",
      "dmonitor on node1, notification n-rec-1",
      "",
    ].join("\n"),
  );
});

Deno.test("renderAlertMail: reminder and test subjects", () => {
  const reminder = sampleDown({ id: "n-rem", kind: "reminder" });
  reminder.votes[0]!.at = T0 + 3_900_000;
  assertEquals(
    renderAlertMail(reminder, opts).subject,
    "STILL DOWN www.example.com ssh for 1h 5m (confirmed by 2 of 3)",
  );
  const test = { ...sampleDown(), kind: "test" as const, votes: [], host: "-", test: "-" };
  const mail = renderAlertMail(test, opts);
  assertEquals(mail.subject, "TEST dmonitor alert test from node1");
  assertEquals(
    mail.text.split("\n").slice(0, 2).join("\n"),
    "This is a test message from dmonitor on node1. Nothing is down:\n" +
      "it was sent by `dmonitor alert test` to check that alerts reach you.",
  );
});

Deno.test("messageId is stable per (notification, recipient) and differs otherwise", () => {
  const a = messageId("n-1", "ops@example.com", "example.com");
  assertEquals(a, messageId("n-1", "OPS@example.com", "example.com"));
  assertEquals(a === messageId("n-1", "dev@example.com", "example.com"), false);
  assertEquals(a === messageId("n-2", "ops@example.com", "example.com"), false);
});

Deno.test("renderAlertMail: a host name cannot inject header lines into the subject", () => {
  const mail = renderAlertMail(sampleDown({ host: "a\r\nBcc: evil@example.com" }), opts);
  assertEquals(mail.subject.includes("\n"), false);
  assertEquals(mail.subject.includes("\r"), false);
});

Deno.test("renderWebhookPayload: documented schema with a Slack-compatible text", () => {
  const p = renderWebhookPayload(sampleDown({
    votes: [sampleDown().votes[0]!, {
      node: "node2",
      status: "FAIL",
      output: "<html> & \n more",
      at: T0 + 4_000,
    }],
  }));
  assertEquals(p, {
    schema: "dmonitor.notification/1",
    text: "DOWN www.example.com ssh (confirmed by 2 of 3)\n" +
      "node1: FAIL connection refused\nnode2: FAIL &lt;html&gt; &amp; more",
    id: "n-down-1",
    kind: "down",
    incident_id: "inc-42",
    host: "www.example.com",
    test: "ssh",
    site: null,
    summary: "DOWN www.example.com ssh (confirmed by 2 of 3)",
    started_at: "2025-03-01T12:00:00.000Z",
    ended_at: null,
    duration_seconds: 4,
    confirmed_by: 2,
    nodes_total: 3,
    notifier: "node1",
    votes: [
      {
        node: "node1",
        status: "FAIL",
        output: "connection refused",
        at: "2025-03-01T12:00:03.000Z",
      },
      { node: "node2", status: "FAIL", output: "<html> & \n more", at: "2025-03-01T12:00:04.000Z" },
    ],
  });
  const rec = renderWebhookPayload(sampleDown({ kind: "recovered", endedAt: T0 + 725_000 }));
  assertEquals(rec.text.split("\n")[0], "RECOVERED www.example.com ssh after 12m 5s");
});
