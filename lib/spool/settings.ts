/**
 * The `spool:` section of dmonitor.yaml (site side), parsed purely into {@link SpoolSettings}.
 * Relative paths are resolved against the configuration root; every problem names the key and
 * quotes the value.
 * @module
 */
import { isAbsolute, resolve } from "node:path";
import type { SectionParser } from "../config/types.ts";
import { applyFields, fail as failAt, type Field, field, type Scope } from "../config/fields.ts";
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

/** The spool settings and the sending options being assembled while the keys are read. */
interface Draft {
  s: SpoolSettings;
  path: (p: string) => string;
  target: { host: string; port: number } | null;
  tls: { on: boolean; caFile?: string; certFile?: string; keyFile?: string };
  password?: string;
  timeoutMs: number;
}

const path = (set: (d: Draft, p: string) => void) => (d: Draft, x: string) => {
  if (x === "") return `must be a path, got ""`;
  set(d, d.path(x));
};

/** The keys of `spool:`: key, parser, setter. */
const SPOOL_FIELDS: readonly Field<Draft>[] = [
  field("directory", (v) => parseString(v), path((d, p) => d.s.directory = p)),
  field("send_to", (v) => parseString(v, 300), (d, x) => {
    const hp = parseHostPort(x.trim(), DEFAULT_PORT);
    if (!hp.ok || hp.value.host === "") {
      return `must be the site Tentacle server as host or host:port, got ${show(x)}`;
    }
    d.target = hp.value;
  }),
  field(
    "ssl",
    (v) => v === 1 || v === 0 ? { ok: true, value: v === 1 } : parseBool(v),
    (d, x) => {
      d.tls.on = x;
    },
  ),
  field("ssl_ca", (v) => parseString(v), path((d, p) => d.tls.caFile = p)),
  field("ssl_cert", (v) => parseString(v), path((d, p) => d.tls.certFile = p)),
  field("ssl_key", (v) => parseString(v), path((d, p) => d.tls.keyFile = p)),
  field("password", (v) => parseString(v, 1024), (d, x) => {
    d.password = x;
  }),
  field("timeout", (v) => parseDuration(v, 100, 600_000), (d, x) => {
    d.timeoutMs = x;
  }),
  field("agent_name", (v) => parseName(v, "an agent name"), (d, x) => {
    d.s.agentName = x;
  }),
  field("group", (v) => parseString(v, 100), (d, x) => {
    d.s.group = x;
  }),
  field("site", (v) => parseName(v, "a site name"), (d, x) => {
    d.s.site = x;
  }),
  field("write_interval", (v) => parseDuration(v, 1000, 86_400_000), (d, x) => {
    d.s.writeIntervalMs = x;
  }),
  field("max_size", (v) => parseBytes(v, 64 * 1024, 2 ** 44), (d, x) => {
    d.s.maxBytes = x;
  }),
  field("max_age", (v) => parseDuration(v, 60_000, 3650 * 86_400_000), (d, x) => {
    d.s.maxAgeMs = x;
  }),
  field("receive_config", parseBool, (d, x) => {
    d.s.receiveConfig = x;
  }),
  field("poll_interval", (v) => parseDuration(v, 100, 3_600_000), (d, x) => {
    d.s.pollMs = x;
  }),
];

/** The keys `spool:` accepts. */
export const SPOOL_KEYS = SPOOL_FIELDS.map((f) => f.key);

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
  const scope: Scope = {
    file: "dmonitor.yaml",
    section: "spool",
    hint: "directory, send_to, max_size, ...",
    problems,
  };
  const resolvePath = (p: string) => isAbsolute(p) ? p : resolve(ctx.root, p);
  const d: Draft = {
    s: {
      directory: resolve(resolvePath(ctx.stateDir), "spool"),
      sendTo: null,
      agentName: ctx.node,
      group: null,
      site: null,
      writeIntervalMs: SPOOL_DEFAULTS.writeIntervalMs,
      maxBytes: SPOOL_DEFAULTS.maxBytes,
      maxAgeMs: SPOOL_DEFAULTS.maxAgeMs,
      receiveConfig: false,
      pollMs: SPOOL_DEFAULTS.pollMs,
    },
    path: resolvePath,
    target: null,
    tls: { on: false },
    timeoutMs: SPOOL_DEFAULTS.timeoutMs,
  };
  if (!applyFields(section, d, SPOOL_FIELDS, scope)) return { settings: null, problems };
  const { s, tls, password, timeoutMs } = d;
  const fail = (key: string, message: string) => failAt(scope, key, message);
  if ((tls.certFile === undefined) !== (tls.keyFile === undefined)) {
    fail("ssl_cert", "and ssl_key must be given together (the client certificate and its key)");
  }
  const t = d.target;
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

/** The `spool:` section's parser, composed by lib/node/load.ts into the node's configuration. */
export const spoolSection: SectionParser<SpoolSettings | null> = {
  key: "spool",
  parse(raw, base, problems) {
    const r = parseSpoolSection(raw, {
      root: base.root,
      node: base.settings.node,
      stateDir: base.settings.state_dir,
    });
    problems.push(...r.problems);
    return r.settings;
  },
};
