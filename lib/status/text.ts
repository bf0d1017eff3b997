/**
 * The terminal view of a {@link StatusView}: what `dmonitor status` prints. Pure; colour only when
 * asked (a terminal without NO_COLOR).
 * @module
 */
import {
  ackText,
  ago,
  countsText,
  displayOrder,
  isDown,
  kindOf,
  noticeText,
  notifiedText,
  offsetText,
  phaseNote,
  runTime,
  silenceText,
  statusWord,
  summarize,
  tone,
} from "./format.ts";
import type { StatusView } from "./types.ts";
import { sanitizeDeep } from "../text/mod.ts";

const CODES = { red: 31, green: 32, yellow: 33, grey: 90, bold: 1 } as const;
type Colour = keyof typeof CODES;

/** `: 2 entries differ`, or why they are not known. */
function differenceText(p: NonNullable<StatusView["agreement"]>["peers"][number]): string {
  if (p.differenceCount > 0) {
    return `: ${p.differenceCount} entr${p.differenceCount === 1 ? "y differs" : "ies differ"}`;
  }
  return p.error ? `: cannot fetch its entries: ${p.error}` : "";
}

/** The lines under the headline when the cluster does not agree. */
export function agreementWarnings(view: StatusView): string[] {
  const a = view.agreement;
  if (!a) return [];
  const out: string[] = [];
  const differ = a.peers.filter((p) => p.agrees === false);
  if (differ.length > 0) {
    out.push(
      `CONFIGURATION DIFFERS on ${differ.map((p) => p.node ?? p.address).join(", ")} ` +
        `(see Configuration below)`,
    );
  }
  if (a.unconfirmable.length > 0) {
    out.push(
      `${a.unconfirmable.length} test${
        a.unconfirmable.length === 1 ? "" : "s"
      } can never be confirmed (see Configuration below)`,
    );
  }
  return out;
}

/** Pads `cells` into aligned columns, measuring without colour codes. */
function columns(rows: string[][]): string[] {
  // deno-lint-ignore no-control-regex
  const width = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, "").length;
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, width(c))));
  return rows.map((r) =>
    r.map((c, i) => (i === r.length - 1 ? c : c + " ".repeat(widths[i]! - width(c)))).join("  ")
      .trimEnd()
  );
}

/**
 * Renders the view as plain text (with ANSI colours when `colour`). Every text in the view (plugin
 * output, peer votes, site errors: it may have come over the network) is stripped of terminal
 * control sequences first, so the only escapes printed are this function's own colours.
 */
export function renderText(input: StatusView, opts: { colour?: boolean } = {}): string {
  const view = sanitizeDeep(input);
  const paint = (c: Colour, s: string) => (opts.colour ? `\x1b[${CODES[c]}m${s}\x1b[0m` : s);
  const now = view.generatedAt;
  const sum = summarize(view);
  const out: string[] = [];
  const mode = view.mode === "single-node" ? "single-node mode" : `cluster, quorum ${view.quorum}`;
  out.push(`${paint("bold", `dmonitor ${view.node}`)}  ${mode}  version ${view.version}`);
  if (view.degraded) {
    out.push(
      paint(
        "yellow",
        `DEGRADED: ${view.degradedReason ?? "cannot reach its peers"}; not voting failures`,
      ),
    );
  }
  out.push(paint(sum.down > 0 ? "red" : "green", sum.headline));
  for (const w of agreementWarnings(view)) out.push(paint("yellow", w));
  out.push("");

  out.push(paint("bold", `Open incidents (${view.incidents.length})`));
  if (view.incidents.length === 0) out.push("  none");
  for (const i of view.incidents) {
    const who = i.notifier ? `notifier ${i.notifier}, ${notifiedText(i)}` : "no notifier yet";
    out.push(
      `  ${paint("red", i.state.toUpperCase())} ${i.host} ${i.test} for ${
        ago(i.since, now).replace(" ago", "")
      }; ${who}` +
        (i.site ? `; site ${i.site}` : ""),
    );
    for (
      const line of columns(i.votes.map((v) => ["   ", v.node, v.status, ago(v.at, now), v.output]))
    ) out.push(line);
    if (i.acknowledged) out.push(`    ${paint("yellow", ackText(i.acknowledged, now))}`);
    for (const n of i.notices ?? []) out.push(`    notice: ${noticeText(n, now)}`);
  }
  out.push("");

  out.push(
    paint(
      "bold",
      `Checks (${countsText(sum)})`,
    ),
  );
  if (view.checks.length === 0) out.push("  none configured");
  const rows = displayOrder(view.checks, view.silences).map((c) => {
    const word = statusWord(c);
    const t = tone(c);
    const kind = kindOf(c, view.silences);
    const colour: Colour = kind === "silenced"
      ? "grey"
      : kind === "local-only"
      ? "yellow"
      : t === "bad"
      ? "red"
      : t === "wait"
      ? "grey"
      : t === "ok"
      ? "green"
      : t === "unknown" && isDown(c)
      ? "red"
      : "yellow";
    const since = c.since === null
      ? "not run yet"
      : `${c.status === "OK" ? "up" : "down"} ${ago(c.since, now)}`;
    const note = kind === "silenced" ? "silenced: not notified" : phaseNote(c.phase);
    return [
      " ",
      paint(colour, word),
      c.host,
      c.test,
      since,
      runTime(c.durationMs),
      c.output + (note ? ` [${note}]` : ""),
    ];
  });
  out.push(...columns(rows), "");

  out.push(paint("bold", `Peers (${view.peers.length})`));
  if (view.peers.length === 0) {
    out.push(view.mode === "single-node" ? "  none (single-node mode)" : "  none");
  }
  out.push(...columns(view.peers.map((p) => [
    " ",
    p.name ? `${p.name} (${p.address})` : p.address,
    p.reachable === null
      ? "not contacted"
      : p.reachable
      ? paint("green", "reachable")
      : paint("red", "unreachable"),
    `last contact ${ago(p.lastContact, now)}`,
    `rtt ${runTime(p.rttMs)}`,
    `${p.errors} errors${p.lastError ? `: ${p.lastError}` : ""}`,
    p.clockOffsetMs === undefined || p.clockOffsetMs === null
      ? ""
      : `clock ${offsetText(p.clockOffsetMs)}`,
  ])));
  for (const p of view.peers) {
    if (p.clockProblem) out.push(`  ${paint("red", `CLOCK: ${p.clockProblem}`)}`);
  }

  if (view.agreement) {
    const a = view.agreement;
    out.push("", paint("bold", `Configuration (digest ${a.digest})`));
    for (const p of a.peers) {
      const who = p.node ? `${p.node} (${p.address})` : p.address;
      const state = p.agrees === null
        ? "not known yet"
        : p.agrees
        ? paint("green", "agrees")
        : paint("yellow", `DIFFERS (digest ${p.digest})`) + differenceText(p);
      out.push(`  ${who}  ${state}`);
      for (const d of p.differences) out.push(`      ${d.text}`);
      if (p.differenceCount > p.differences.length) {
        out.push(`      ... and ${p.differenceCount - p.differences.length} more`);
      }
    }
    for (const u of a.unconfirmable) out.push(`  ${paint("yellow", u.message)}`);
  }

  if (view.silences && view.silences.length > 0) {
    out.push("", paint("bold", `Silenced (${view.silences.length})`));
    out.push(...columns(view.silences.map((s) => [
      " ",
      s.host,
      s.test ?? "(all tests)",
      silenceText(s, now),
    ])));
  }

  if (view.sites.length > 0) {
    out.push("", paint("bold", `Remote sites (${view.sites.length})`));
    out.push(...columns(view.sites.map((s) => [
      " ",
      s.name,
      `last pull ${ago(s.lastPull, now)}`,
      `lag ${s.lagMs === null ? "-" : runTime(s.lagMs)}`,
      `${s.files} files`,
      s.drainedBy ? `drained by ${s.drainedBy}` : "",
      `${s.errors} errors${s.lastError ? `: ${s.lastError}` : ""}`,
    ])));
  }

  out.push("", paint("bold", "Recent incidents"));
  if (view.history.length === 0) out.push("  none");
  out.push(...columns(view.history.map((h) => [
    " ",
    h.host,
    h.test,
    `started ${ago(h.startedAt, now)}`,
    h.endedAt === null ? "still open" : `lasted ${ago(h.startedAt, h.endedAt).replace(" ago", "")}`,
    h.notifier ? `notified by ${h.notifier}` : "",
  ])));
  if (view.outbox) {
    out.push("", `Notifications queued: ${view.outbox.pending}, failed: ${view.outbox.failed}`);
  }
  return out.join("\n") + "\n";
}
