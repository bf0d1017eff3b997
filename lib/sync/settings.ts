/**
 * The `sync:` section of dmonitor.yaml (central side), with Pandora's own key names and meanings
 * (`syncserver`, `sync_address`, `sync_port`, `sync_ca`, `sync_cert`, `sync_key`, `sync_retries`,
 * `sync_timeout`) plus dmonitor's, and the same keys read from an existing pandora_server.conf.
 * Values may be YAML scalars or the strings a Pandora config file holds. Pure.
 * @module
 */
import { isAbsolute, resolve } from "node:path";
import type { SectionParser } from "../config/types.ts";
import { applyFields, fail as failAt, type Field, field, type Scope } from "../config/fields.ts";
import type { ConfigProblem } from "../errors/mod.ts";
import { type Parsed, parseDuration, parseHostPort, parseString, show } from "../config/values.ts";
import { parseName } from "../spool/settings.ts";
import { parseConfigFile } from "../tentacle/options.ts";
import { DEFAULT_PORT } from "../tentacle/protocol.ts";

/** One remote site: a Tentacle server reached at host:port. */
export interface SiteConfig {
  /** Name used in alerts, status and the store (the address itself unless named in `sites`). */
  name: string;
  host: string;
  port: number;
}

export interface SyncSettings {
  /** `syncserver`: 0 turns the puller off while keeping the section. */
  enabled: boolean;
  sites: SiteConfig[];
  /** TLS towards the sites (client certificate when cert and key are set); null: plain TCP. */
  tls: { caFile?: string; certFile?: string; keyFile?: string } | null;
  password?: string;
  /** `sync_retries`: failed attempts retried (with backoff) before waiting for the next interval. */
  retries: number;
  /** `sync_timeout`: how long any connect, read or write may wait, ms. */
  timeoutMs: number;
  /** How often each site is pulled, ms. */
  intervalMs: number;
  /** Sites pulled at once. */
  parallel: number;
  /** A site not reached for this long raises a "site unreachable" incident, ms. */
  unreachableAfterMs: number;
  /** Work directory for downloads (per site: incoming/, rejected/). */
  directory: string;
  /** SQLite database holding the central store; null: the node's state database. */
  database: string | null;
  /** Files moved per pipelined batch (dmonitor servers). */
  batch: number;
  /** Longest one session with a site may last before it is cut (a slow site holds a slot no longer), ms. */
  sessionTimeoutMs: number;
  /** How long ingested file names and hashes are remembered to drop re-deliveries, ms. */
  ledgerRetentionMs: number;
  /** Directory of the per-site configuration trees pushed to the sites (`sites.d`). */
  sitesDir: string;
  /** First retry delay and cap of the retry backoff, ms. */
  backoffBaseMs: number;
  backoffMaxMs: number;
}

/** Pandora's keys, read from pandora_server.conf by `--pandora-conf`. */
export const PANDORA_KEYS = [
  "syncserver",
  "sync_address",
  "sync_port",
  "sync_ca",
  "sync_cert",
  "sync_key",
  "sync_retries",
  "sync_timeout",
] as const;

export const SYNC_DEFAULTS = {
  port: DEFAULT_PORT,
  retries: 3,
  timeoutMs: 10_000,
  intervalMs: 60_000,
  parallel: 4,
  unreachableAfterMs: 600_000,
  batch: 64,
  sessionTimeoutMs: 300_000,
  ledgerRetentionMs: 30 * 86_400_000,
  backoffBaseMs: 2_000,
  backoffMaxMs: 60_000,
} as const;

/** An integer given as a YAML number or as the digits a Pandora config file holds. */
export function parseCount(v: unknown, min: number, max: number): Parsed<number> {
  const n = typeof v === "number"
    ? v
    : typeof v === "string" && /^\s*\d+\s*$/.test(v)
    ? Number(v)
    : NaN;
  if (!Number.isInteger(n)) {
    return { ok: false, message: `must be a whole number from ${min} to ${max}, got ${show(v)}` };
  }
  if (n < min || n > max) {
    return { ok: false, message: `must be from ${min} to ${max}, got ${show(v)}` };
  }
  return { ok: true, value: n };
}

/** A duration; bare numbers (YAML or text, as Pandora writes `sync_timeout 10`) are seconds. */
export function parseSeconds(v: unknown, min: number, max: number): Parsed<number> {
  if (typeof v === "string" && /^\s*\d+(\.\d+)?\s*$/.test(v)) {
    return parseDuration(Number(v), min, max);
  }
  return parseDuration(v, min, max);
}

function parseSwitch(v: unknown): Parsed<boolean> {
  if (v === true || v === 1 || v === "1") return { ok: true, value: true };
  if (v === false || v === 0 || v === "0") return { ok: true, value: false };
  return { ok: false, message: `must be 1 or 0, got ${show(v)}` };
}

/** Reads Pandora's sync keys from the text of a pandora_server.conf (other keys are ignored). */
export function readPandoraConf(text: string): Record<string, string> {
  const all = parseConfigFile(text);
  const out: Record<string, string> = {};
  for (const k of PANDORA_KEYS) if (all[k] !== undefined) out[k] = all[k]!;
  return out;
}

/** The sync settings and the site addresses being assembled while the keys are read. */
interface Draft {
  s: SyncSettings;
  path: (p: string) => string;
  tls: { caFile?: string; certFile?: string; keyFile?: string };
  port: number;
  addresses: string[];
  named: [string, unknown][];
}

const filePath = (set: (d: Draft, p: string) => void) => (d: Draft, x: string) => {
  if (x.trim() === "") return `must be a file path, got ""`;
  set(d, d.path(x.trim()));
};
const str = (v: unknown) => parseString(v);

function parseAddresses(v: unknown): Parsed<string[]> {
  if (Array.isArray(v) && v.every((x) => typeof x === "string")) {
    return { ok: true, value: v.map((x) => x.trim()) };
  }
  const r = parseString(v);
  return r.ok ? { ok: true, value: r.value.split(",").map((a) => a.trim()).filter((a) => a) } : r;
}

function parseSites(v: unknown): Parsed<Record<string, unknown>> {
  return typeof v === "object" && v !== null && !Array.isArray(v)
    ? { ok: true, value: v as Record<string, unknown> }
    : { ok: false, message: `must be a mapping of site name to address, got ${show(v)}` };
}

/** The keys of `sync:` (Pandora's first): key, parser, setter. */
const SYNC_FIELDS: readonly Field<Draft>[] = [
  field("syncserver", parseSwitch, (d, x) => {
    d.s.enabled = x;
  }),
  field("sync_address", parseAddresses, (d, x) => {
    d.addresses = x;
  }),
  field("sync_port", (v) => parseCount(v, 1, 65535), (d, x) => {
    d.port = x;
  }),
  field("sync_ca", str, filePath((d, p) => d.tls.caFile = p)),
  field("sync_cert", str, filePath((d, p) => d.tls.certFile = p)),
  field("sync_key", str, filePath((d, p) => d.tls.keyFile = p)),
  field("sync_retries", (v) => parseCount(v, 0, 100), (d, x) => {
    d.s.retries = x;
  }),
  field("sync_timeout", (v) => parseSeconds(v, 100, 3_600_000), (d, x) => {
    d.s.timeoutMs = x;
  }),
  field("sync_password", (v) => parseString(v, 1024), (d, x) => {
    d.s.password = x;
  }),
  // Each entry is checked after the table (its problems name `sites.<name>`).
  field("sites", parseSites, (d, sites) => {
    d.named = Object.entries(sites);
  }),
  field("interval", (v) => parseSeconds(v, 100, 86_400_000), (d, x) => {
    d.s.intervalMs = x;
  }),
  field("parallel", (v) => parseCount(v, 1, 256), (d, x) => {
    d.s.parallel = x;
  }),
  field("unreachable_after", (v) => parseSeconds(v, 100, 30 * 86_400_000), (d, x) => {
    d.s.unreachableAfterMs = x;
  }),
  field("directory", str, filePath((d, p) => d.s.directory = p)),
  field("database", str, filePath((d, p) => d.s.database = p)),
  field("batch", (v) => parseCount(v, 1, 256), (d, x) => {
    d.s.batch = x;
  }),
  field("session_timeout", (v) => parseSeconds(v, 1000, 86_400_000), (d, x) => {
    d.s.sessionTimeoutMs = x;
  }),
  field("ledger_retention", (v) => parseSeconds(v, 3_600_000, 3650 * 86_400_000), (d, x) => {
    d.s.ledgerRetentionMs = x;
  }),
  field("sites_dir", str, filePath((d, p) => d.s.sitesDir = p)),
  field("backoff_base", (v) => parseSeconds(v, 10, 3_600_000), (d, x) => {
    d.s.backoffBaseMs = x;
  }),
  field("backoff_max", (v) => parseSeconds(v, 10, 86_400_000), (d, x) => {
    d.s.backoffMaxMs = x;
  }),
];

/** The keys `sync:` accepts. */
export const SYNC_KEYS = SYNC_FIELDS.map((f) => f.key);

/**
 * Parses a raw `sync:` section (`overrides`, e.g. from pandora_server.conf, win over it). `root`
 * resolves relative paths; `stateDir` gives the default work directory.
 */
export function parseSyncSection(
  section: unknown,
  ctx: { root: string; stateDir: string; overrides?: Record<string, string> },
): { settings: SyncSettings | null; problems: ConfigProblem[] } {
  const problems: ConfigProblem[] = [];
  const hasOverrides = ctx.overrides !== undefined && Object.keys(ctx.overrides).length > 0;
  if ((section === undefined || section === null) && !hasOverrides) {
    return { settings: null, problems };
  }
  const scope: Scope = {
    file: "dmonitor.yaml",
    section: "sync",
    hint: "sync_address, sync_port, ...",
    problems,
  };
  const fail = (key: string, message: string) => failAt(scope, key, message);
  if (
    section !== undefined && section !== null &&
    (typeof section !== "object" || Array.isArray(section))
  ) {
    fail("", `must be a mapping (sync_address, sync_port, ...), got ${show(section)}`);
    return { settings: null, problems };
  }
  const raw: Record<string, unknown> = {
    ...(section as Record<string, unknown> | null ?? {}),
    ...ctx.overrides,
  };
  const path = (p: string) => isAbsolute(p) ? p : resolve(ctx.root, p);
  const stateDir = path(ctx.stateDir);
  const s: SyncSettings = {
    enabled: true,
    sites: [],
    tls: null,
    retries: SYNC_DEFAULTS.retries,
    timeoutMs: SYNC_DEFAULTS.timeoutMs,
    intervalMs: SYNC_DEFAULTS.intervalMs,
    parallel: SYNC_DEFAULTS.parallel,
    unreachableAfterMs: SYNC_DEFAULTS.unreachableAfterMs,
    directory: resolve(stateDir, "sync"),
    database: null,
    batch: SYNC_DEFAULTS.batch,
    sessionTimeoutMs: SYNC_DEFAULTS.sessionTimeoutMs,
    ledgerRetentionMs: SYNC_DEFAULTS.ledgerRetentionMs,
    sitesDir: resolve(ctx.root, "sites.d"),
    backoffBaseMs: SYNC_DEFAULTS.backoffBaseMs,
    backoffMaxMs: SYNC_DEFAULTS.backoffMaxMs,
  };
  const d: Draft = { s, path, tls: {}, port: SYNC_DEFAULTS.port, addresses: [], named: [] };
  applyFields(raw, d, SYNC_FIELDS, scope);
  const { tls, port, addresses, named } = d;
  if ((tls.certFile === undefined) !== (tls.keyFile === undefined)) {
    fail("sync_cert", "and sync_key must be given together (the client certificate and its key)");
  }
  if (tls.caFile || tls.certFile || tls.keyFile) s.tls = tls;
  const add = (name: string, addr: string, key: string) => {
    const hp = parseHostPort(addr, port);
    if (!hp.ok || hp.value.host === "") {
      fail(key, `entry must be a host or host:port, got ${show(addr)}`);
      return;
    }
    const same = s.sites.find((x) => x.host === hp.value.host && x.port === hp.value.port);
    if (s.sites.some((x) => x.name === name)) fail(key, `names the site ${show(name)} twice`);
    // Two sessions draining one spool would race for its files: one address, one site.
    else if (same) {
      fail(key, `is the address of the site ${show(same.name)} already, got ${show(addr)}`);
    } else s.sites.push({ name, host: hp.value.host, port: hp.value.port });
  };
  for (const a of addresses) add(a, a, "sync_address");
  for (const [name, addr] of named) {
    const n = parseName(name, "a site name");
    if (!n.ok) fail(`sites.${name}`, `name ${n.message}`);
    else if (typeof addr !== "string") {
      fail(
        `sites.${name}`,
        `must be an address such as 10.1.2.3 or 10.1.2.3:41121, got ${show(addr)}`,
      );
    } else add(name, addr.trim(), `sites.${name}`);
  }
  // No site is not an error here: `dmonitor sync --pandora-conf` may bring the addresses. Starting
  // the puller without any is (see requireSites).
  if (s.backoffMaxMs < s.backoffBaseMs) fail("backoff_max", "must not be below backoff_base");
  return { settings: problems.length ? null : s, problems };
}

/** The problem of an enabled puller without sites, or null. */
export function requireSites(s: SyncSettings): ConfigProblem | null {
  return s.enabled && s.sites.length === 0
    ? {
      file: "dmonitor.yaml",
      key: "sync.sync_address",
      message:
        "must list at least one site (comma-separated addresses, or sites:), or set syncserver: 0",
    }
    : null;
}

/**
 * The `sync:` section's parser, composed by lib/node/load.ts into the node's configuration;
 * `overrides` (Pandora's keys from `dmonitor sync --pandora-conf`) win over dmonitor.yaml.
 */
export function syncSection(
  overrides?: Record<string, string>,
): SectionParser<SyncSettings | null> {
  return {
    key: "sync",
    parse(raw, base, problems) {
      const r = parseSyncSection(raw, {
        root: base.root,
        stateDir: base.settings.state_dir,
        overrides,
      });
      problems.push(...r.problems);
      return r.settings;
    },
  };
}
