/**
 * Pure formatting shared by the page and the terminal view: ages, durations, counts and a
 * summary of what is wrong.
 * @module
 */
import type {
  AckView,
  CheckView,
  NoticeView,
  OpenIncident,
  SilenceView,
  StatusView,
} from "./types.ts";

/** A compact span: `45s`, `3m`, `2h 5m`, `3d 4h`. */
export function span(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 ? `${h}h ${m % 60}m` : `${h}h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d}d ${h % 24}h` : `${d}d`;
}

/** `3m ago`, or `never` for null. */
export function ago(at: number | null, now: number): string {
  if (at === null) return "never";
  if (at > now + 1000) return `in ${span(at - now)}`;
  return `${span(now - at)} ago`;
}

/** Joins the parts that are present with ` · `: the page's one-line details. */
export function dotted(parts: readonly (string | null)[]): string {
  return parts.filter((x) => x !== null).join(" · ");
}

/** `1 error`, `3 errors`. */
export function errorCount(n: number): string {
  return `${n} error${n === 1 ? "" : "s"}`;
}

/** A run time: `850ms`, `1.2s`, `12s`. */
export function runTime(ms: number | null): string {
  if (ms === null) return "-";
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 10_000) return `${(ms / 1000).toFixed(1)}s`;
  return `${Math.round(ms / 1000)}s`;
}

/** ISO time without milliseconds, UTC: `2025-11-21T09:12:03Z`. */
export function isoTime(at: number): string {
  return new Date(at).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** A wall-clock end with its zone written out: `2025-11-21 09:12:03 UTC`. */
export function zonedTime(at: number): string {
  return new Date(at).toISOString().replace("T", " ").replace(/\.\d{3}Z$/, " UTC");
}

/** A silence in one line: its end (zone written out, and how far off), reason, and whose it is. */
export function silenceText(s: SilenceView, now: number): string {
  return `until ${zonedTime(s.until)} (${ago(s.until, now)}); ${silenceSource(s)}`;
}

/** Whose a silence is, and why: `file silence.d/db1 on this node: ...` or `shared, id ...`. */
export function silenceSource(s: SilenceView): string {
  const whose = s.file !== undefined
    ? `file ${s.file} on this node`
    : `shared, id ${s.id ?? "?"}, added by ${s.by ?? "?"} on ${s.origin ?? "?"}`;
  return whose + (s.reason ? `: ${s.reason}` : "");
}

/** An acknowledgement in one line. */
export function ackText(a: AckView, now: number): string {
  return `acknowledged by ${a.by} on ${a.origin} ${ago(a.at, now)} (${zonedTime(a.at)})` +
    (a.reason ? `: ${a.reason}` : "") + "; reminders stop, the recovery is still sent";
}

/** A peer's clock offset in words: `+0.2 s`, `-7.5 s`. */
export function offsetText(ms: number): string {
  return `${ms >= 0 ? "+" : "-"}${(Math.abs(ms) / 1000).toFixed(1)} s`;
}

/** True when the check is failing (FAIL or TIMEOUT). */
export function isDown(c: CheckView): boolean {
  return c.status === "FAIL" || c.status === "TIMEOUT";
}

/**
 * What a check counts as on the page and in the headline: a confirmed (or, without consensus,
 * plain) outage; failing only on this node (`local-only`: its peers see it pass); failing while
 * a silence holds; waiting for its first run; or up.
 */
export type CheckKind = "down" | "local-only" | "silenced" | "pending" | "up";

/** True when a silence in force covers the check. */
export function isSilenced(c: CheckView, silences: readonly SilenceView[] = []): boolean {
  return silences.some((s) => s.host === c.host && (s.test === null || s.test === c.test));
}

/** Classifies a check; see {@link CheckKind}. */
export function kindOf(c: CheckView, silences: readonly SilenceView[] = []): CheckKind {
  if (c.status === "PENDING") return "pending";
  if (!isDown(c)) return "up";
  if (isSilenced(c, silences)) return "silenced";
  if (c.phase === "local-only") return "local-only";
  return "down";
}

export interface Summary {
  total: number;
  up: number;
  /** Confirmed outages only: what the headline counts. */
  down: number;
  /** Failing only on this node. */
  localOnly: number;
  /** Failing under a silence. */
  silenced: number;
  pending: number;
  /** One line for the page title and the terminal: `2 of 5 checks down`, `all 5 checks up`. */
  headline: string;
}

/** `1 failing only on this node, 2 silenced`: the failures the headline does not count. */
export function asideText(sum: Summary): string | null {
  const parts = [
    sum.localOnly ? `${sum.localOnly} failing only on this node` : null,
    sum.silenced ? `${sum.silenced} silenced` : null,
  ].filter((x) => x !== null);
  return parts.length ? parts.join(", ") : null;
}

/** Counts checks by kind and phrases the headline, which counts confirmed outages only. */
export function summarize(view: StatusView): Summary {
  const total = view.checks.length;
  const kinds = view.checks.map((c) => kindOf(c, view.silences));
  const n = (k: CheckKind) => kinds.filter((x) => x === k).length;
  const down = n("down");
  const pending = n("pending");
  const localOnly = n("local-only");
  const silenced = n("silenced");
  const up = n("up");
  const plural = (k: number) => (k === 1 ? "check" : "checks");
  let headline: string;
  if (total === 0) headline = "no checks configured";
  else if (down > 0) headline = `${down} of ${total} ${plural(total)} down`;
  else if (pending === total) headline = `${total} ${plural(total)} waiting for their first run`;
  else if (up === total) headline = total === 1 ? "the check is up" : `all ${total} checks up`;
  else if (localOnly + silenced === 0) headline = `${up} ${plural(up)} up, ${pending} waiting`;
  else headline = `no confirmed outage; ${up} of ${total} ${plural(total)} up`;
  const sum = { total, up, down, localOnly, silenced, pending, headline };
  const aside = asideText(sum);
  if (aside) sum.headline += ` (${aside})`;
  return sum;
}

/** The checks section's title counts: `1 up, 1 down, 1 only on this node, 1 silenced, 1 waiting`. */
export function countsText(sum: Summary): string {
  return [
    `${sum.up} up`,
    `${sum.down} down`,
    sum.localOnly ? `${sum.localOnly} only on this node` : null,
    sum.silenced ? `${sum.silenced} silenced` : null,
    sum.pending ? `${sum.pending} waiting` : null,
  ].filter((x) => x !== null).join(", ");
}

/**
 * Orders checks for display: confirmed down first, then failing only here, silenced, pending,
 * up; by host and test within each.
 */
export function displayOrder(
  checks: CheckView[],
  silences: readonly SilenceView[] = [],
): CheckView[] {
  const order: CheckKind[] = ["down", "local-only", "silenced", "pending", "up"];
  const rank = (c: CheckView) => order.indexOf(kindOf(c, silences));
  return [...checks].sort((a, b) =>
    rank(a) - rank(b) || a.host.localeCompare(b.host) || a.test.localeCompare(b.test)
  );
}

/** A human word for a consensus phase, or null when there is nothing to add to the status. */
export function phaseNote(phase: string | null): string | null {
  switch (phase) {
    case "suspect":
      return "asking peers";
    case "local-only":
      return "only this node sees it (its view differs)";
    case "unconfirmed":
      return "too few peers answered to confirm";
    case "down":
      return "confirmed down";
    case "recovering":
      return "recovering, confirming";
    case "recovered":
      return "recovered";
    default:
      return null;
  }
}

/**
 * The word a person reads for a check: what the check said, so WARNING, CRITICAL, UNKNOWN, ERROR
 * and TIMEOUT stay apart; UP and DOWN for the dmonitor contract's OK and FAIL; PENDING before the
 * first run.
 */
export function statusWord(c: CheckView): string {
  if (c.status === "PENDING") return "PENDING";
  if (c.state === null || c.state === "OK") {
    return c.status === "OK" ? "UP" : c.status === "FAIL" ? "DOWN" : c.status;
  }
  if (c.state === "FAIL") return "DOWN";
  return c.state;
}

/** The badge tone of a check: bad when it counts as down, warn for a passing WARNING or UNKNOWN. */
export function tone(c: CheckView): "ok" | "bad" | "warn" | "unknown" | "wait" {
  if (c.status === "PENDING") return "wait";
  if (isDown(c)) return c.state === "UNKNOWN" || c.state === "ERROR" ? "unknown" : "bad";
  return c.state === "WARNING" ? "warn" : c.state === "UNKNOWN" ? "unknown" : "ok";
}

/** Ages as a person reads them, with the absolute time beside: `3m ago (2025-11-21T09:12:03Z)`. */
export function agoAt(at: number | null, now: number): string {
  return at === null ? "never" : `${ago(at, now)} (${isoTime(at)})`;
}

/** One notice per recipient, as the terminal and the page say it. */
export function noticeText(n: NoticeView, now: number): string {
  const to = n.recipient ? `${n.kind} to ${n.recipient}` : n.kind;
  switch (n.state) {
    case "queued":
      return n.recipient === null && n.by
        ? `${to} queued on ${n.by} (that node's outbox delivers it)`
        : `${to} queued${
          n.nextAt !== null && n.nextAt > now ? `, due ${agoAt(n.nextAt, now)}` : ""
        }`;
    case "retrying":
      return `${to} not delivered yet: ${n.lastError ?? "failed"}; next try ${
        n.nextAt === null ? "soon" : agoAt(n.nextAt, now)
      }`;
    case "failed":
      return `${to} FAILED after ${n.attempts} tries: ${n.lastError ?? "gave up"}`;
    case "delivered":
      return `${to} delivered ${agoAt(n.at, now)}${n.by ? ` by ${n.by}` : ""}`;
    case "muted":
      // An entry whose alert.d route does not want this notice (lib/alerts/route.ts).
      if (n.lastError?.startsWith("not routed: ")) {
        return `${to} not routed (${n.lastError.slice("not routed: ".length)})`;
      }
      return `${to} muted${n.lastError ? `: ${n.lastError}` : ""}`;
    case "no recipients":
      return `${to} NOT SENT: no recipients${n.lastError ? ` (${n.lastError})` : ""}`;
  }
}

/** The incident's notification in a few words: `notified`, `NOT NOTIFIED: ...`, `not notified yet`. */
export function notifiedText(i: OpenIncident): string {
  if (i.notified) return "notified";
  const ns = i.notices ?? [];
  if (ns.some((n) => n.state === "no recipients")) return "NOT NOTIFIED: no recipients";
  if (ns.length > 0 && ns.every((n) => n.state === "failed")) {
    return "NOT NOTIFIED: delivery failed";
  }
  if (ns.some((n) => n.state === "retrying")) return "not delivered yet, retrying";
  if (ns.some((n) => n.state === "muted") && ns.every((n) => n.state === "muted")) return "muted";
  if (ns.some((n) => n.state === "queued")) return "queued, not delivered yet";
  return "not notified yet";
}
