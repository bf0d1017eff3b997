/**
 * Builds what people read: the alert mail and the webhook/command JSON document. Pure functions
 * of the notification (and the recipient), so every byte is covered by exact-text tests.
 * @module
 */
import { sha256Hex } from "../hash/mod.ts";
import type { Vote } from "../quorum/types.ts";
import type { Deliverable } from "./types.ts";

/** Formats a duration as its two most significant units: `45s`, `12m 5s`, `1h 5m`, `2d 3h`. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const units: [number, string][] = [[86400, "d"], [3600, "h"], [60, "m"], [1, "s"]];
  const i = units.findIndex(([size]) => s >= size);
  if (i < 0) return "0s";
  const [big, bigName] = units[i]!;
  const head = `${Math.floor(s / big)}${bigName}`;
  const next = units[i + 1];
  if (!next) return head;
  const rest = Math.floor((s % big) / next[0]);
  return rest ? `${head} ${rest}${next[1]}` : head;
}

/** Formats epoch ms as `2025-03-01 12:00:00 UTC`: one zone for every node and reader. */
export function formatTime(ms: number): string {
  return new Date(ms).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
}

/** Formats epoch ms as an RFC 5322 `Date` header value: `Sat, 01 Mar 2025 12:00:00 +0000`. */
export function formatMailDate(ms: number): string {
  return new Date(ms).toUTCString().replace(/GMT$/, "+0000");
}

/** Votes that saw the failure (FAIL or TIMEOUT); UNKNOWN and UNREACHABLE never count. */
export function failingVotes(votes: Vote[]): number {
  return votes.filter((v) => v.status === "FAIL" || v.status === "TIMEOUT").length;
}

/** The last moment the notification speaks for: the newest vote, or the start. */
function lastSeen(n: Deliverable): number {
  return Math.max(n.startedAt, ...n.votes.map((v) => v.at));
}

/** How long the outage lasted (recovered) or has lasted so far (down, reminder). */
export function outageDuration(n: Deliverable): number {
  return (n.endedAt ?? lastSeen(n)) - n.startedAt;
}

/** The one-line summary used as mail subject and webhook headline. */
export function renderSubject(n: Deliverable): string {
  const prefix = n.site ? `[${n.site}] ` : "";
  const what = `${n.host} ${n.test}`;
  const confirmed = `(confirmed by ${failingVotes(n.votes)} of ${n.nodesTotal})`;
  switch (n.kind) {
    case "down":
      return `${prefix}DOWN ${what} ${confirmed}`;
    case "reminder":
      return `${prefix}STILL DOWN ${what} for ${formatDuration(outageDuration(n))} ${confirmed}`;
    case "recovered":
      return `${prefix}RECOVERED ${what} after ${formatDuration(outageDuration(n))}`;
    case "test":
      return `${prefix}TEST dmonitor alert test from ${n.notifier}`;
  }
}

/** Replaces control characters so plugin output cannot forge lines or headers. */
function clean(s: string, max = 1000): string {
  // Matching control characters is the point here.
  // deno-lint-ignore no-control-regex
  const flat = s.replace(/\r\n?/g, "\n").replace(/[\x00-\x09\x0b-\x1f\x7f]/g, "?").trimEnd();
  return flat.length > max ? flat.slice(0, max) + "..." : flat;
}

function voteLines(votes: Vote[]): string[] {
  if (votes.length === 0) return [];
  const nodeW = Math.max(...votes.map((v) => v.node.length));
  const statusW = Math.max(...votes.map((v) => v.status.length));
  const lines = ["", "Results by node:"];
  for (const v of votes) {
    lines.push(`  ${v.node.padEnd(nodeW)}  ${v.status.padEnd(statusW)}  at ${formatTime(v.at)}`);
    const indent = " ".repeat(nodeW + 4);
    for (const line of (clean(v.output) || "(no output)").split("\n")) lines.push(indent + line);
  }
  return lines;
}

function headline(n: Deliverable): string {
  const what = `${n.host} ${n.test}`;
  const failing = `${failingVotes(n.votes)} of ${n.nodesTotal} nodes see it failing.`;
  switch (n.kind) {
    case "down":
      return `${what} is DOWN: ${failing}`;
    case "reminder":
      return `${what} is STILL DOWN after ${formatDuration(outageDuration(n))}: ${failing}`;
    case "recovered":
      return `${what} has RECOVERED after ${formatDuration(outageDuration(n))}.`;
    case "test":
      return `This is a test message from dmonitor on ${n.notifier}. Nothing is down:\n` +
        "it was sent by `dmonitor alert test` to check that alerts reach you.";
  }
}

function verdict(n: Deliverable): string {
  const confirmed = `confirmed by ${failingVotes(n.votes)} of ${n.nodesTotal} nodes`;
  switch (n.kind) {
    case "down":
    case "reminder":
      return `DOWN, ${confirmed}`;
    case "recovered": {
      const ok = n.votes.filter((v) => v.status === "OK").length;
      return `RECOVERED, passing on ${ok} of ${n.nodesTotal} nodes`;
    }
    case "test":
      return "TEST";
  }
}

/** The plain-text body a person on call reads. */
export function renderText(n: Deliverable): string {
  const fields: [string, string][] = [["Host", n.host], ["Test", n.test]];
  if (n.site) fields.push(["Site", n.site]);
  fields.push(["Verdict", verdict(n)]);
  if (n.kind !== "test") fields.push(["Started", formatTime(n.startedAt)]);
  if (n.kind === "recovered" && n.endedAt !== null) {
    fields.push(["Ended", formatTime(n.endedAt)], ["Lasted", formatDuration(outageDuration(n))]);
  }
  fields.push(["Notifier", n.notifier], ["Incident", n.incidentId]);
  const lines = [headline(n), ""];
  for (const [k, v] of fields) lines.push(`${(k + ":").padEnd(10)}${clean(v, 200)}`);
  lines.push(...voteLines(n.votes));
  lines.push("", "-- ", `dmonitor on ${n.notifier}, notification ${n.id}`);
  return lines.join("\n") + "\n";
}

/** Options that make a mail unique to its recipient and stable across retries. */
export interface MailOptions {
  /** The recipient address (part of the Message-ID, so each copy has its own). */
  recipient: string;
  /** Right-hand side of Message-ID (the sender's domain). */
  domain: string;
  /** Epoch ms the message was queued: the `Date` header, unchanged by retries. */
  date: number;
}

export interface AlertMail {
  subject: string;
  text: string;
  /** `Message-ID`, `Date`, `References`, `Auto-Submitted` and `X-Dmonitor-*` headers. */
  headers: Record<string, string>;
}

function digest(...parts: string[]): string {
  return sha256Hex(parts.join("\0")).slice(0, 32);
}

/** A Message-ID stable for (notification, recipient): a retried or re-queued copy keeps it. */
export function messageId(notificationId: string, recipient: string, domain: string): string {
  return `<dmonitor.${digest(notificationId, recipient.toLowerCase())}@${domain}>`;
}

/**
 * Renders the alert mail for one recipient.
 * @example
 * renderAlertMail(n, { recipient: "ops@example.com", domain: "example.com", date: Date.now() })
 *   .subject; // "DOWN www.example.com ssh (confirmed by 2 of 3)"
 */
export function renderAlertMail(n: Deliverable, opts: MailOptions): AlertMail {
  // Every mail of one incident references the same root, so mail clients thread down, reminders
  // and recovery together for each recipient.
  const root = `<dmonitor.incident.${
    digest(n.incidentId, opts.recipient.toLowerCase())
  }@${opts.domain}>`;
  return {
    subject: clean(renderSubject(n), 400).replace(/\n/g, " "),
    text: renderText(n),
    headers: {
      "Message-ID": messageId(n.id, opts.recipient, opts.domain),
      "Date": formatMailDate(opts.date),
      "References": root,
      "Auto-Submitted": "auto-generated",
      "X-Dmonitor-Kind": n.kind,
      "X-Dmonitor-Incident": clean(n.incidentId, 200).replace(/\n/g, " "),
    },
  };
}
