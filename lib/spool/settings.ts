/**
 * The `spool:` section of dmonitor.yaml (site side), parsed purely into {@link SpoolSettings}.
 * Relative paths are resolved against the configuration root; every problem names the key and
 * quotes the value.
 * @module
 */
import { isAbsolute, resolve } from "node:path";
import type { Config } from "../config/types.ts";
import type { ConfigProblem } from "../errors/mod.ts";
import {
  parseBool,
  type Parsed,
  parseDuration,
  parseHostPort,
  parseString,
  show,
} from "../config/values.ts";
import { DEFAULT_PORT } from "../tentacle/protocol.ts";

/** Where a site's spooled files go when they leave this node. */
export interface SendTo {
  host: string;
  port: number;
  /** TLS from the first byte; with `certFile`/`keyFile` a client certificate is presented. */
  tls: { caFile?: string; certFile?: string; keyFile?: string } | null;
  password?: string;
  /** Idle timeout of every read and write, ms. */
  timeoutMs: number;
}

export interface SpoolSettings {
  /** Directory the data files are written to (the site's Tentacle directory, or an outgoing queue). */
  directory: string;
  /** Send each file to this Tentacle server and delete it here; null: leave it in `directory`. */
  sendTo: SendTo | null;
  /** The `agent_name` of the data files (default: the node name). */
  agentName: string;
  /** Pandora group attribute; null leaves it out (Pandora then applies its own default). */
  group: string | null;
  /** The site this node belongs to, written as an attribute (informational; the central names sites). */
  site: string | null;
  /** How often buffered results are written as one data file, ms. */
  writeIntervalMs: number;
  /** Largest total size of the spool directory's data files, bytes; oldest dropped first. */
  maxBytes: number;
  /** Oldest data file kept, ms. */
  maxAgeMs: number;
  /** Pick up configuration bundles pushed by the central node, validate and apply them. */
  receiveConfig: boolean;
  /** How often the sender drains the queue and looks for a pushed configuration, ms. */
  pollMs: number;
}

export const SPOOL_KEYS = [
  "directory",
  "send_to",
  "ssl",
  "ssl_ca",
  "ssl_cert",
  "ssl_key",
  "password",
  "timeout",
  "agent_name",
  "group",
  "site",
  "write_interval",
  "max_size",
  "max_age",
  "receive_config",
  "poll_interval",
] as const;

export const SPOOL_DEFAULTS = {
  writeIntervalMs: 30_000,
  maxBytes: 100 * 1024 * 1024,
  maxAgeMs: 7 * 86_400_000,
  pollMs: 10_000,
  timeoutMs: 10_000,
} as const;

const UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1024,
  kb: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1024 ** 3,
  gib: 1024 ** 3,
};

/**
 * A size in bytes: a whole number, or a number with a unit (`500KB`, `100MB`, `2GB`; powers of
 * 1024).
 * @example parseBytes("100MB", 1, 2 ** 40) // { ok: true, value: 104857600 }
 */
export function parseBytes(v: unknown, min: number, max: number): Parsed<number> {
  let n: number | null = null;
  if (typeof v === "number" && Number.isInteger(v)) n = v;
  else if (typeof v === "string") {
    const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(v.trim());
    const unit = m ? UNITS[m[2]!.toLowerCase()] : undefined;
    if (m && unit !== undefined) n = Math.round(Number(m[1]) * unit);
  }
  if (n === null) {
    return { ok: false, message: `must be a size such as 100MB or 2GB, got ${show(v)}` };
  }
  if (n < min || n > max) {
    return { ok: false, message: `must be between ${min} and ${max} bytes, got ${show(v)}` };
  }
  return { ok: true, value: n };
}

/** A name that is safe in file names, XML attributes and log lines. */
export function parseName(v: unknown, what: string): Parsed<string> {
  const r = parseString(v, 200);
  if (!r.ok) return r;
  return /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(r.value)
    ? r
    : { ok: false, message: `must be ${what} (letters, digits, '.', '-', '_'), got ${show(v)}` };
}

/**
 * Parses a raw `spool:` section. `root` resolves relative paths, `node` and `stateDir` give the
 * defaults. Returns null settings when the section is absent.
 */
export function parseSpoolSection(
  section: unknown,
  ctx: { root: string; node: string; stateDir: string },
): { settings: SpoolSettings | null; problems: ConfigProblem[] } {
  const problems: ConfigProblem[] = [];
  if (section === undefined || section === null) return { settings: null, problems };
  const fail = (key: string, message: string) =>
    problems.push({ file: "dmonitor.yaml", key: key ? `spool.${key}` : "spool", message });
  if (typeof section !== "object" || Array.isArray(section)) {
    fail("", `must be a mapping (directory, send_to, max_size, ...), got ${show(section)}`);
    return { settings: null, problems };
  }
  const raw = section as Record<string, unknown>;
  const path = (p: string) => isAbsolute(p) ? p : resolve(ctx.root, p);
  const s: SpoolSettings = {
    directory: resolve(path(ctx.stateDir), "spool"),
    sendTo: null,
    agentName: ctx.node,
    group: null,
    site: null,
    writeIntervalMs: SPOOL_DEFAULTS.writeIntervalMs,
    maxBytes: SPOOL_DEFAULTS.maxBytes,
    maxAgeMs: SPOOL_DEFAULTS.maxAgeMs,
    receiveConfig: false,
    pollMs: SPOOL_DEFAULTS.pollMs,
  };
  const take = <T>(key: string, r: Parsed<T>, set: (v: T) => void) =>
    r.ok ? set(r.value) : fail(key, r.message);
  let target: { host: string; port: number } | null = null;
  const tls: { on: boolean; caFile?: string; certFile?: string; keyFile?: string } = { on: false };
  let password: string | undefined;
  let timeoutMs: number = SPOOL_DEFAULTS.timeoutMs;
  for (const [key, v] of Object.entries(raw)) {
    switch (key) {
      case "directory":
        take(
          key,
          parseString(v),
          (x) => x === "" ? fail(key, `must be a directory path, got ""`) : s.directory = path(x),
        );
        break;
      case "send_to":
        take(key, parseString(v, 300), (x) => {
          const hp = parseHostPort(x.trim(), DEFAULT_PORT);
          if (!hp.ok || hp.value.host === "") {
            fail(key, `must be the site Tentacle server as host or host:port, got ${show(v)}`);
          } else target = hp.value;
        });
        break;
      case "ssl":
        take(
          key,
          v === 1 || v === 0 ? { ok: true, value: v === 1 } : parseBool(v),
          (x) => tls.on = x,
        );
        break;
      case "ssl_ca":
        take(key, parseString(v), (x) => tls.caFile = path(x));
        break;
      case "ssl_cert":
        take(key, parseString(v), (x) => tls.certFile = path(x));
        break;
      case "ssl_key":
        take(key, parseString(v), (x) => tls.keyFile = path(x));
        break;
      case "password":
        take(key, parseString(v, 1024), (x) => password = x);
        break;
      case "timeout":
        take(key, parseDuration(v, 100, 600_000), (x) => timeoutMs = x);
        break;
      case "agent_name":
        take(key, parseName(v, "an agent name"), (x) => s.agentName = x);
        break;
      case "group":
        take(key, parseString(v, 100), (x) => s.group = x);
        break;
      case "site":
        take(key, parseName(v, "a site name"), (x) => s.site = x);
        break;
      case "write_interval":
        take(key, parseDuration(v, 1000, 86_400_000), (x) => s.writeIntervalMs = x);
        break;
      case "max_size":
        take(key, parseBytes(v, 64 * 1024, 2 ** 44), (x) => s.maxBytes = x);
        break;
      case "max_age":
        take(key, parseDuration(v, 60_000, 3650 * 86_400_000), (x) => s.maxAgeMs = x);
        break;
      case "receive_config":
        take(key, parseBool(v), (x) => s.receiveConfig = x);
        break;
      case "poll_interval":
        take(key, parseDuration(v, 100, 3_600_000), (x) => s.pollMs = x);
        break;
      default:
        fail(key, `is not a known spool setting (known: ${SPOOL_KEYS.join(", ")})`);
    }
  }
  if ((tls.certFile === undefined) !== (tls.keyFile === undefined)) {
    fail("ssl_cert", "and ssl_key must be given together (the client certificate and its key)");
  }
  const t = target as { host: string; port: number } | null;
  if (t) {
    const useTls = tls.on || tls.caFile !== undefined || tls.certFile !== undefined;
    s.sendTo = {
      host: t.host,
      port: t.port,
      tls: useTls ? { caFile: tls.caFile, certFile: tls.certFile, keyFile: tls.keyFile } : null,
      password,
      timeoutMs,
    };
  } else if (tls.on || tls.caFile || tls.certFile || password !== undefined) {
    fail(
      "send_to",
      "is needed for ssl, ssl_ca, ssl_cert, ssl_key and password (they configure sending)",
    );
  }
  return { settings: problems.length ? null : s, problems };
}

/** The spool settings of a parsed configuration (null when there is no `spool:` section). */
export function spoolSettings(
  config: Config,
): { settings: SpoolSettings | null; problems: ConfigProblem[] } {
  return parseSpoolSection(config.settings.sections.spool, {
    root: config.root,
    node: config.settings.node,
    stateDir: config.settings.state_dir,
  });
}

/** Validator for lib/node/load.ts VALIDATORS. */
export function spoolProblems(config: Config): ConfigProblem[] {
  return spoolSettings(config).problems;
}
