/**
 * The `store:` section of dmonitor.yaml: where a central node keeps its shared state. Absent, the
 * node keeps it in its own SQLite file (the embedded default); present, in PostgreSQL, given as a
 * `url` or as host/port/database/user, with the password in `password_file` and TLS options. Pure:
 * the password file is read by {@link readPgPassword} when the node starts.
 * @module
 */
import { isAbsolute, resolve } from "node:path";
import type { SectionParser } from "../config/types.ts";
import { applyFields, fail as failAt, type Field, field, type Scope } from "../config/fields.ts";
import type { ConfigProblem } from "../errors/mod.ts";
import {
  parseChoice,
  parseDuration,
  parseInteger,
  parsePort,
  parseString,
  show,
} from "../config/values.ts";

/** TLS towards the server: `require` encrypts, `verify` also checks the certificate and name. */
export interface PgTls {
  mode: "require" | "verify";
  caFile?: string;
  certFile?: string;
  keyFile?: string;
}

/** A parsed `store:` section (PostgreSQL). */
export interface PgSettings {
  host: string;
  port: number;
  /** Directory of the server's unix socket (`socket:`); used instead of host:port when set. */
  path: string | null;
  database: string;
  user: string;
  /** A password given in the URL (discouraged; `password_file` is the way). */
  password?: string;
  /** File whose first line is the password; read at start. */
  passwordFile?: string;
  tls: PgTls | null;
  /** Connections in the pool. */
  poolSize: number;
  connectTimeoutMs: number;
  /** Where these came from, for messages: `dmonitor.yaml: store` or `test`. */
  source: string;
}

export const PG_DEFAULTS = { port: 5432, database: "dmonitor", user: "dmonitor", pool: 4 };

interface Draft {
  s: PgSettings;
  url: string | null;
  tlsMode: "off" | "require" | "verify" | null;
  ca?: string;
  cert?: string;
  key?: string;
  path: (p: string) => string;
}

const pathField = (key: string, set: (d: Draft, p: string) => void): Field<Draft> =>
  field(key, (v) => parseString(v), (d, x) => {
    if (x === "") return `must be a path, got ""`;
    set(d, d.path(x));
  });

const NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}$/;

/** The keys of `store:`: key, parser, setter. */
const STORE_FIELDS: readonly Field<Draft>[] = [
  field("url", (v) => parseString(v, 2048), (d, x) => {
    d.url = x;
  }),
  field("host", (v) => parseString(v, 255), (d, x) => {
    if (!/^[A-Za-z0-9.:_-]+$/.test(x)) return `must be a host name or IP address, got ${show(x)}`;
    d.s.host = x;
  }),
  field("port", parsePort, (d, x) => {
    d.s.port = x;
  }),
  pathField("socket", (d, p) => d.s.path = p),
  field("database", (v) => parseString(v, 63), (d, x) => {
    if (!NAME.test(x)) return `must be a database name (letters, digits, _ . -), got ${show(x)}`;
    d.s.database = x;
  }),
  field("user", (v) => parseString(v, 63), (d, x) => {
    if (!NAME.test(x)) return `must be a user name (letters, digits, _ . -), got ${show(x)}`;
    d.s.user = x;
  }),
  pathField("password_file", (d, p) => d.s.passwordFile = p),
  field("tls", (v) => parseChoice(v, ["off", "require", "verify"] as const), (d, x) => {
    d.tlsMode = x;
  }),
  pathField("tls_ca", (d, p) => d.ca = p),
  pathField("tls_cert", (d, p) => d.cert = p),
  pathField("tls_key", (d, p) => d.key = p),
  field("pool", (v) => parseInteger(v, 1, 100), (d, x) => {
    d.s.poolSize = x;
  }),
  field("connect_timeout", (v) => parseDuration(v, 100, 300_000), (d, x) => {
    d.s.connectTimeoutMs = x;
  }),
];

/** The keys `store:` accepts. */
export const STORE_KEYS = STORE_FIELDS.map((f) => f.key);

/** Applies a `postgres://` / `postgresql://` URL; returns a message when it is not one. */
function applyUrl(d: Draft, raw: string): string | null {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return `must be a URL such as postgres://dmonitor@10.0.0.5:5432/dmonitor, got ${show(raw)}`;
  }
  if (u.protocol !== "postgres:" && u.protocol !== "postgresql:") {
    return `must be a postgres:// or postgresql:// URL, got ${show(raw)}`;
  }
  const host = decodeURIComponent(u.hostname).replace(/^\[|\]$/g, "");
  const q = u.searchParams;
  const socket = q.get("host");
  if (host === "" && !socket) return `must name a host, got ${show(raw)}`;
  if (host) d.s.host = host;
  if (socket) d.s.path = socket;
  if (u.port) d.s.port = Number(u.port);
  const db = decodeURIComponent(u.pathname.replace(/^\//, ""));
  if (db) {
    if (!NAME.test(db)) return `names a database that is not valid, got ${show(db)}`;
    d.s.database = db;
  }
  if (u.username) d.s.user = decodeURIComponent(u.username);
  if (u.password) d.s.password = decodeURIComponent(u.password);
  const mode = q.get("sslmode");
  if (mode !== null) {
    const m = ({
      disable: "off",
      allow: "off",
      prefer: "off",
      require: "require",
      "verify-ca": "verify",
      "verify-full": "verify",
    } as const)[mode];
    if (!m) return `has an sslmode that is not known, got ${show(mode)}`;
    d.tlsMode ??= m;
  }
  for (const k of q.keys()) {
    if (!["host", "sslmode"].includes(k)) {
      return `has a parameter dmonitor does not take (host, sslmode), got ${show(k)}`;
    }
  }
  return null;
}

/**
 * Parses a raw `store:` section; null settings when it is absent (SQLite). `root` resolves relative
 * paths.
 */
export function parseStoreSection(
  section: unknown,
  ctx: { root: string },
): { settings: PgSettings | null; problems: ConfigProblem[] } {
  const problems: ConfigProblem[] = [];
  if (section === undefined || section === null) return { settings: null, problems };
  const scope: Scope = {
    file: "dmonitor.yaml",
    section: "store",
    hint: "url, or host, port, database, user, password_file, tls, ...",
    problems,
  };
  const fail = (key: string, message: string) => failAt(scope, key, message);
  const d: Draft = {
    s: {
      host: "",
      port: PG_DEFAULTS.port,
      path: null,
      database: PG_DEFAULTS.database,
      user: PG_DEFAULTS.user,
      tls: null,
      poolSize: PG_DEFAULTS.pool,
      connectTimeoutMs: 10_000,
      source: "dmonitor.yaml: store",
    },
    url: null,
    tlsMode: null,
    path: (p) => isAbsolute(p) ? p : resolve(ctx.root, p),
  };
  if (typeof section === "string") {
    // `store: postgres://...` as a one-liner.
    section = { url: section };
  }
  if (!applyFields(section, d, STORE_FIELDS, scope)) return { settings: null, problems };
  const raw = section as Record<string, unknown>;
  if (d.url !== null) {
    for (const k of ["host", "port", "database", "user", "socket"]) {
      if (raw[k] !== undefined) fail(k, `cannot be given with url (the URL says it)`);
    }
    const why = applyUrl(d, d.url);
    if (why) fail("url", why);
    else if (d.s.password !== undefined && raw.password_file !== undefined) {
      fail("url", "carries a password and password_file is set too: keep one (password_file)");
    }
  } else if (d.s.host === "" && d.s.path === null) {
    fail("", "needs url, host or socket (where the PostgreSQL server is)");
  }
  const tlsOpts = d.ca !== undefined || d.cert !== undefined || d.key !== undefined;
  if ((d.cert === undefined) !== (d.key === undefined)) {
    fail("tls_cert", "and tls_key must be given together (the client certificate and its key)");
  }
  if (d.tlsMode === "off" && tlsOpts) {
    fail("tls", `is "off" but tls_ca, tls_cert or tls_key is set`);
  }
  const mode = d.tlsMode ?? (tlsOpts ? "verify" : "off");
  if (mode !== "off") {
    if (d.s.path !== null) fail("tls", "cannot be used over a unix socket (socket:)");
    d.s.tls = { mode, caFile: d.ca, certFile: d.cert, keyFile: d.key };
  }
  return { settings: problems.length ? null : d.s, problems };
}

/** The `store:` section's parser, composed by lib/node/load.ts into the node's configuration. */
export const storeSection: SectionParser<PgSettings | null> = {
  key: "store",
  parse(raw, base, problems) {
    const r = parseStoreSection(raw, { root: base.root });
    problems.push(...r.problems);
    return r.settings;
  },
};
