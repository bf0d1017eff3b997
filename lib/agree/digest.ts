/**
 * What must agree across the cluster, as plain data: one entry per host/test (what runs it, its
 * parameters, interval, timeout, retries, how WARNING and UNKNOWN count) and one `cluster` entry
 * (the quorum rule and the set of node names). Pure: a {@link TreeSummary} is a function of the
 * parsed configuration only, so two nodes with the same tree compute the same digest whatever
 * their root directory, node name or listen address.
 * @module
 */
import { sha256Hex } from "../hash/mod.ts";
import type { Config, TestConfig } from "../config/types.ts";
import { formatDuration } from "../config/values.ts";

/** The key of the entry holding the quorum rule and the node set. */
export const CLUSTER_KEY = "(cluster)";

/** One thing that must agree: `host/test` or {@link CLUSTER_KEY}, and its fields as shown. */
export interface Entry {
  key: string;
  /** Field name -> value as a person reads it (`interval: "30s"`); secrets as a hash. */
  fields: Record<string, string>;
}

/** A node's whole summary: the digest of its entries, and the entries (sorted by key). */
export interface TreeSummary {
  digest: string;
  entries: Entry[];
}

/** Parameter names whose values are secrets: compared by hash, never shown or sent. */
const SECRET_RE = /token|password|secret|key/i;

/** A secret's stand-in: comparable, not reversible. */
export function redact(value: string): string {
  return `sha256:${sha256Hex(value).slice(0, 12)}`;
}

/** `plugins/check_x` for a plugin in the tree (roots differ between nodes), else the path. */
function runs(t: TestConfig, root: string): string {
  const ex = t.executor;
  if (ex.kind === "builtin") return `built-in ${ex.name}`;
  const rel = ex.path.startsWith(root.replace(/\/+$/, "") + "/")
    ? ex.path.slice(root.replace(/\/+$/, "").length + 1)
    : ex.path;
  return `plugin ${rel}`;
}

/** The entry of one configured test. */
export function testEntry(t: TestConfig, root: string): Entry {
  const fields: Record<string, string> = {
    runs: runs(t, root),
    interval: formatDuration(t.interval),
    timeout: formatDuration(t.timeout),
    retries: String(t.retries),
    warning: t.warning,
    unknown: t.unknown,
  };
  if (t.executor.kind === "plugin" && t.executor.args !== null) {
    fields.args = JSON.stringify(t.executor.args);
  }
  for (const k of Object.keys(t.params).sort()) {
    const v = String(t.params[k]);
    fields[`param ${k}`] = SECRET_RE.test(k) ? redact(v) : v;
  }
  return { key: `${t.host}/${t.test}`, fields };
}

/** The canonical line an entry hashes to: key, then fields sorted by name. */
function line(e: Entry): string {
  return JSON.stringify([e.key, Object.entries(e.fields).sort(([a], [b]) => a < b ? -1 : 1)]);
}

/** Digest of entries (any order): 16 hex digits of SHA-256 over their sorted canonical lines. */
export function digestOf(entries: readonly Entry[]): string {
  const lines = entries.map(line).sort();
  return sha256Hex(lines.join("\n")).slice(0, 16);
}

/** This node's summary: every test, and the quorum rule with the node names (self + peers). */
export function summarize(config: Config, peerNames: readonly string[]): TreeSummary {
  const q = config.settings.quorum;
  const cluster: Entry = {
    key: CLUSTER_KEY,
    fields: {
      quorum: q.kind === "count" ? String(q.count) : `${q.percent}%`,
      nodes: [...new Set([config.settings.node, ...peerNames])].sort().join(" "),
    },
  };
  const entries = [cluster, ...config.tests.map((t) => testEntry(t, config.root))]
    .sort((a, b) => a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
  return { digest: digestOf(entries), entries };
}
