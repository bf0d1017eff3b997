/**
 * What `dmonitor outbox` and `dmonitor alert test` need: plain library functions and pure
 * formatters. main.ts parses flags, opens the state database, prints, and picks the exit code.
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import { Outbox, type OutboxRow } from "./outbox.ts";
import { formatTime } from "./render.ts";
import { abortable } from "./deliver.ts";
import { type Channels, type Deliverable, type Target, targetKey } from "./types.ts";

/** Rows for `dmonitor outbox`: pending and failed, or every row with `all`. */
export function listOutbox(db: DatabaseSync, opts: { all?: boolean } = {}): OutboxRow[] {
  const outbox = new Outbox(db);
  return opts.all ? outbox.list(["pending", "failed", "sent", "muted"]) : outbox.list();
}

/**
 * Puts messages back in the queue (`dmonitor outbox retry [ID...]`): the rows named, or every
 * failed one. A message that had no recipient goes to `targets` (alert.d/ as it is now). Returns
 * how many deliveries are queued and, per ID that could not be, why.
 */
export function retryOutbox(
  db: DatabaseSync,
  ids: readonly number[] | "all",
  now: number,
  targets: readonly Target[] = [],
): { queued: number; problems: string[] } {
  const outbox = new Outbox(db);
  const named = ids === "all" ? outbox.list(["failed"]).map((r) => r.id) : ids;
  let queued = 0;
  const problems: string[] = [];
  for (const id of named) {
    const r = outbox.retryOne(id, targets, now);
    if ("error" in r) problems.push(r.error);
    else queued += r.queued;
  }
  return { queued, problems };
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) =>
    r.map((c, i) => i === r.length - 1 ? c : c.padEnd(widths[i]!)).join("  ").trimEnd()
  )
    .join("\n");
}

/**
 * Formats outbox rows for a terminal: a count line, then one line per message with its status,
 * attempts, when it is next tried (or was sent), recipient, subject and last error.
 */
export function formatOutbox(rows: readonly OutboxRow[], now: number): string {
  if (rows.length === 0) return "Outbox empty: nothing pending or failed.\n";
  const count = (s: string) => rows.filter((r) => r.status === s).length;
  const parts = ["pending", "failed", "sent", "muted"].filter((s) => count(s) > 0)
    .map((s) => `${count(s)} ${s}`);
  const when = (r: OutboxRow) => {
    if (r.status === "pending") return r.nextAt <= now ? "now" : formatTime(r.nextAt);
    if (r.status === "sent" && r.sentAt !== null) return formatTime(r.sentAt);
    return "-";
  };
  const lines = [["ID", "STATUS", "TRIES", "NEXT/SENT", "RECIPIENT", "SUBJECT", "LAST ERROR"]];
  for (const r of rows) {
    lines.push([
      String(r.id),
      r.status,
      String(r.attempts),
      when(r),
      r.recipient,
      r.summary,
      r.lastError ?? "",
    ]);
  }
  return `${parts.join(", ")}\n${table(lines)}\n`;
}

/** The message `dmonitor alert test` sends: kind `test`, says plainly that nothing is down. */
export function testNotification(node: string, now: number): Deliverable {
  return {
    id: `test-${node}-${now}`,
    kind: "test",
    incidentId: `test-${now}`,
    host: node,
    test: "alert-test",
    startedAt: now,
    endedAt: null,
    votes: [],
    nodesTotal: 1,
    notifier: node,
    site: null,
  };
}

export interface ChannelTestResult {
  /** `email:ops@example.com`, `webhook:ops`, `command:pager`. */
  target: string;
  ok: boolean;
  /** The server's reply, or why it failed. */
  detail: string;
  ms: number;
}

/**
 * Sends a test notification to every target at once, directly (not through the outbox, so the
 * answer is immediate), and reports each result in target order.
 * @example
 * const results = await sendTestAlert(alertTargets(settings), built.channels, { node: "node1" });
 * console.log(formatTestResults(results));
 * Deno.exitCode = results.every((r) => r.ok) ? 0 : 1;
 */
export async function sendTestAlert(
  targets: readonly Target[],
  channels: Channels,
  opts: { node: string; now?: number; timeoutMs?: number; signal?: AbortSignal },
): Promise<ChannelTestResult[]> {
  const now = opts.now ?? Date.now();
  const notification = testNotification(opts.node, now);
  return await Promise.all(targets.map(async (target): Promise<ChannelTestResult> => {
    const started = performance.now();
    const result = (ok: boolean, detail: string) => ({
      target: targetKey(target),
      ok,
      detail: detail.replace(/\s+/g, " ").trim(),
      ms: Math.round(performance.now() - started),
    });
    const channel = channels[target.channel];
    if (!channel) return result(false, `no ${target.channel} channel is configured`);
    const signal = AbortSignal.any([
      AbortSignal.timeout(opts.timeoutMs ?? 60_000),
      ...(opts.signal ? [opts.signal] : []),
    ]);
    try {
      const receipt = await abortable(
        channel.send({ notification, target, createdAt: now }, signal),
        signal,
      );
      return result(true, receipt.detail);
    } catch (e) {
      if (signal.aborted && !opts.signal?.aborted) return result(false, "timed out");
      return result(false, e instanceof Error ? e.message : String(e));
    }
  }));
}

/** One line per target: `ok   email:ops@example.com  250 Accepted (120 ms)`. */
export function formatTestResults(results: readonly ChannelTestResult[]): string {
  if (results.length === 0) {
    return "No alert target configured: add files to alert.d/ (an email address, " +
      "<name>.webhook, <name>.command or <name>.alertmanager).\n";
  }
  const w = Math.max(...results.map((r) => r.target.length));
  const lines = results.map((r) =>
    `${r.ok ? "ok  " : "FAIL"}  ${r.target.padEnd(w)}  ${r.detail} (${r.ms} ms)`
  );
  const failed = results.filter((r) => !r.ok).length;
  lines.push(
    failed ? `${failed} of ${results.length} targets failed` : `all ${results.length} targets ok`,
  );
  return lines.join("\n") + "\n";
}
