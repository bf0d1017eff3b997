/**
 * How two nodes' summaries differ, entry by entry and field by field, and the one-line text every
 * view (page, JSON, `dmonitor status`, `dmonitor config diff`, the log) shows for each difference.
 * Pure.
 * @module
 */
import type { Entry } from "./digest.ts";

/** One field that differs; null: absent on that side. */
export interface FieldDiff {
  field: string;
  here: string | null;
  there: string | null;
}

/** One entry (`host/test` or `(cluster)`) that is not the same on both nodes. */
export interface EntryDiff {
  key: string;
  change: "only-here" | "only-there" | "differs";
  /** For `differs`: the fields that differ, sorted by name. */
  fields: FieldDiff[];
}

/** Every entry not the same on both sides, sorted by key. */
export function diffEntries(here: readonly Entry[], there: readonly Entry[]): EntryDiff[] {
  const a = new Map(here.map((e) => [e.key, e.fields]));
  const b = new Map(there.map((e) => [e.key, e.fields]));
  const out: EntryDiff[] = [];
  for (const key of [...new Set([...a.keys(), ...b.keys()])].sort()) {
    const x = a.get(key), y = b.get(key);
    if (!y) {
      out.push({ key, change: "only-here", fields: [] });
      continue;
    }
    if (!x) {
      out.push({ key, change: "only-there", fields: [] });
      continue;
    }
    const fields: FieldDiff[] = [];
    for (const f of [...new Set([...Object.keys(x), ...Object.keys(y)])].sort()) {
      const u = x[f] ?? null, v = y[f] ?? null;
      if (u !== v) fields.push({ field: f, here: u, there: v });
    }
    if (fields.length > 0) out.push({ key, change: "differs", fields });
  }
  return out;
}

/**
 * One line per difference, naming both nodes:
 * `127.0.0.1/ssh: only on n1`, `127.0.0.1/tcp: param port: 22 on n1, 2222 on n2`.
 */
export function describeDiff(d: EntryDiff, here: string, there: string): string {
  if (d.change === "only-here") return `${d.key}: only on ${here}`;
  if (d.change === "only-there") return `${d.key}: only on ${there}`;
  const side = (v: string | null, node: string) =>
    v === null ? `absent on ${node}` : `${v} on ${node}`;
  return `${d.key}: ` +
    d.fields.map((f) => `${f.field}: ${side(f.here, here)}, ${side(f.there, there)}`).join("; ");
}

/**
 * The text `dmonitor config diff` prints: a headline, then one line per difference, then, for
 * entries on one side only, their fields (what the other node would need to add).
 */
export function renderDiff(
  here: { node: string; digest: string; entries: readonly Entry[] },
  there: { node: string; digest: string; entries: readonly Entry[] },
): string {
  const diffs = diffEntries(here.entries, there.entries);
  const total = new Set([...here.entries, ...there.entries].map((e) => e.key)).size;
  const who = `${here.node} (this tree, digest ${here.digest}) and ${there.node} ` +
    `(as it reports it, digest ${there.digest})`;
  if (diffs.length === 0) return `${who} agree on all ${total} entries\n`;
  const lines = [
    `${who} differ in ${diffs.length} of ${total} entr${total === 1 ? "y" : "ies"}:`,
  ];
  const fieldsOf = (side: readonly Entry[], key: string) =>
    Object.entries(side.find((e) => e.key === key)?.fields ?? {})
      .map(([k, v]) => `      ${k}: ${v}`);
  for (const d of diffs) {
    lines.push(`  ${describeDiff(d, here.node, there.node)}`);
    if (d.change === "only-here") lines.push(...fieldsOf(here.entries, d.key));
    if (d.change === "only-there") lines.push(...fieldsOf(there.entries, d.key));
  }
  return lines.join("\n") + "\n";
}
