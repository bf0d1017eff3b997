/**
 * Turning the reference's flags and config-file keys into options, purely: no file is read here
 * (cli.ts reads the `-F` file and checks paths). Validation follows the reference's rules and
 * messages; every problem is a UsageError with one clear line.
 * @module
 */

import { isAbsolute, resolve } from "node:path";
import type { SectionParser } from "../config/types.ts";
import { UsageError } from "../errors/mod.ts";
import { DEFAULT_PORT, parseFilters } from "./protocol.ts";
import type { TentacleClientOptions } from "./client_types.ts";
import type { TentacleServerOptions } from "./server.ts";

/** Getopt::Std specs of the reference scripts (server v0.6.2, client v0.4.0). */
export const SERVER_SPEC = "a:b:c:de:f:F:g:hIi:k:l:m:op:qr:s:S:t:TvVwx:z:u:";
export const CLIENT_SPEC = "a:b:ce:f:ghk:p:qr:t:vwx:y:z";

/** How much the server logs: -q, default (errors and warnings), -v, -V. */
export type Verbosity = "quiet" | "normal" | "verbose" | "debug";

/** Everything `tentacle-server` needs besides the server options. */
export interface ServerSettings {
  server: TentacleServerOptions;
  daemon: boolean;
  logFile?: string;
  verbosity: Verbosity;
  /** Things accepted but ignored, to be logged once. */
  warnings: string[];
}

/**
 * Parses the reference's config file format: lines starting with a letter, `key value`; the rest
 * of the line is the value (we trim surrounding white space, the reference keeps it).
 */
export function parseConfigFile(text: string): Record<string, string> {
  const conf: Record<string, string> = {};
  for (const line of text.split("\n")) {
    if (!/^[a-zA-Z]/.test(line)) continue;
    const m = line.match(/([\w\-.]+)\s+(.*)/);
    if (m && m[2]!.trim() !== "") conf[m[1]!] = m[2]!.trim();
  }
  return conf;
}

type Flags = ReadonlyMap<string, string | true>;

function str(flags: Flags, flag: string, conf: Record<string, string>, key: string) {
  const v = flags.get(flag);
  if (typeof v === "string") return v;
  return conf[key];
}

/** A boolean flag, or its config key set to exactly "1" (as the reference reads booleans). */
function bool(flags: Flags, flag: string, conf: Record<string, string>, key: string): boolean {
  return flags.has(flag) || conf[key] === "1";
}

function int(value: string, min: number, max: number, message: string): number {
  if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
    throw new UsageError(message);
  }
  return Number(value);
}

const IPV4 = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/;

/** The reference's address check (host names of letters and dots, IPv4, or hex-and-colon IPv6). */
export function validAddress(a: string, hostname = /^[a-zA-Z.]+$/): boolean {
  if (hostname.test(a) || /^[0-9a-f:]+$/.test(a)) return true;
  const m = a.match(IPV4);
  return m !== null && m.slice(1).every((n) => Number(n) <= 255);
}

const UNSUPPORTED_SERVER: Record<string, string> = {
  b: "-b (proxy mode)",
  g: "-g (proxy port)",
  S: "-S (Windows service)",
  T: "-T (tcpwrappers)",
  w: "-w (key password prompt)",
  z: "-z (SSL version)",
  u: "-u (SSL cipher)",
};
const UNSUPPORTED_KEYS: Record<string, string> = {
  proxy_ip: "proxy mode",
  proxy_port: "proxy mode",
  use_libwrap: "tcpwrappers",
  ssl_version: "SSL version restriction",
  ssl_cipher: "SSL cipher restriction",
};

/** Resolves server flags (which win) and config-file keys into settings. */
export function resolveServerSettings(
  flags: Flags,
  conf: Record<string, string> = {},
): ServerSettings {
  for (const [f, what] of Object.entries(UNSUPPORTED_SERVER)) {
    if (flags.has(f)) throw new UsageError(`tentacle-server: ${what} is not supported by dmonitor`);
  }
  for (const [k, what] of Object.entries(UNSUPPORTED_KEYS)) {
    if (conf[k] !== undefined && !(k === "use_libwrap" && conf[k] !== "1")) {
      throw new UsageError(
        `tentacle-server: config key '${k}' (${what}) is not supported by dmonitor`,
      );
    }
  }
  if (conf.ssl_password === "1") {
    throw new UsageError(
      "tentacle-server: config key 'ssl_password' (key password prompt) is not supported",
    );
  }
  const warnings: string[] = [];
  for (const k of ["block_size", "invalid_chars"]) {
    if (conf[k] !== undefined) {
      warnings.push(`config key '${k}' is ignored (dmonitor's checks are fixed)`);
    }
  }

  const directory = str(flags, "s", conf, "directory");
  if (directory === undefined) {
    throw new UsageError(
      "tentacle-server: a storage directory is required (-s <storage directory>)",
    );
  }
  const server: TentacleServerOptions = { directory };

  const addresses = str(flags, "a", conf, "addresses");
  if (addresses !== undefined) {
    server.addresses = addresses.split(",").map((a) => a.trim());
    for (const a of server.addresses) {
      if (a !== "0" && !validAddress(a)) {
        throw new UsageError(`tentacle-server: Address ${a} is not valid.`);
      }
    }
  }
  const c = str(flags, "c", conf, "max_connections");
  if (c !== undefined) {
    server.maxConnections = int(
      c,
      1,
      1e6,
      "tentacle-server: Invalid number of maximum simultaneous connections.",
    );
  }
  const cert = str(flags, "e", conf, "ssl_cert");
  const key = str(flags, "k", conf, "ssl_key");
  const ca = str(flags, "f", conf, "ssl_ca");
  if (cert !== undefined || key !== undefined || ca !== undefined) {
    if (cert === undefined || key === undefined) {
      throw new UsageError(
        "tentacle-server: TLS needs both a certificate (-e) and a private key (-k)",
      );
    }
    server.tls = { certFile: cert, keyFile: key, ...(ca !== undefined ? { caFile: ca } : {}) };
  }
  server.insecure = bool(flags, "I", conf, "insecure");
  server.overwrite = bool(flags, "o", conf, "overwrite");
  const filters = str(flags, "i", conf, "filters");
  if (filters !== undefined) {
    try {
      server.filters = parseFilters(filters);
    } catch (e) {
      throw new UsageError(`tentacle-server: ${(e as Error).message}`);
    }
  }
  const m = str(flags, "m", conf, "max_size");
  if (m !== undefined) {
    server.maxSize = int(
      m,
      1,
      Number.MAX_SAFE_INTEGER,
      "tentacle-server: Invalid maximum file size.",
    );
  }
  const mu = conf.max_unzipped_size;
  if (mu !== undefined) {
    server.maxUnzippedSize = int(
      mu,
      1,
      Number.MAX_SAFE_INTEGER,
      "tentacle-server: Invalid max_unzipped_size.",
    );
  }
  // Ours: `fsync 0` trades durability for speed (the reference never fsyncs; we do by default).
  if (conf.fsync === "0") server.fsync = false;
  const p = str(flags, "p", conf, "port");
  server.port = p === undefined
    ? DEFAULT_PORT
    : int(p, 1, 65535, `tentacle-server: Port ${p} is not valid.`);
  const r = str(flags, "r", conf, "retries");
  const retries = r === undefined
    ? 3
    : int(r, 1, 1e6, "tentacle-server: Invalid number of retries for network operations.");
  const t = str(flags, "t", conf, "timeout");
  const timeout = t === undefined
    ? 1
    : int(t, 1, 1e6, "tentacle-server: Invalid timeout for network operations.");
  server.idleTimeoutMs = timeout * 1000 * (retries + 1);
  const x = str(flags, "x", conf, "password");
  if (x !== undefined && x !== "") server.password = x;

  let verbosity: Verbosity = "normal";
  if (conf.verbose === "1") verbosity = "verbose";
  if (conf.verbose === "2") verbosity = "debug";
  if (flags.has("v")) verbosity = "verbose";
  if (flags.has("V")) verbosity = "debug";
  if (bool(flags, "q", conf, "quiet")) verbosity = "quiet";

  const logFile = str(flags, "l", conf, "log_file");
  return {
    server,
    daemon: bool(flags, "d", conf, "daemon"),
    ...(logFile !== undefined ? { logFile } : {}),
    verbosity,
    warnings,
  };
}

/** Everything `tentacle-client` needs. */
export interface ClientSettings {
  client: TentacleClientOptions;
  get: boolean;
  compress: boolean;
  verbose: boolean;
  quiet: boolean;
  files: string[];
}

/** Resolves client flags with the reference client's rules and messages. */
export function resolveClientSettings(flags: Flags, files: string[]): ClientSettings {
  if (flags.has("w")) {
    throw new UsageError("tentacle-client: -w (key password prompt) is not supported");
  }
  if (flags.has("y")) throw new UsageError("tentacle-client: -y (HTTP proxy) is not supported");
  const client: TentacleClientOptions = { probe: false };
  const a = flags.get("a");
  if (typeof a === "string") {
    if (!validAddress(a, /^[a-zA-Z.][a-zA-Z0-9.-]+$/)) {
      throw new UsageError(`tentacle-client: Address ${a} is not valid.`);
    }
    client.host = a;
  }
  const b = flags.get("b");
  if (typeof b === "string") {
    if (!validAddress(b, /^[a-zA-Z.][a-zA-Z0-9.-]+$/)) {
      throw new UsageError(`tentacle-client: Local address ${b} is not valid.`);
    }
    client.localAddress = b;
  }
  const e = flags.get("e");
  const f = flags.get("f");
  const k = flags.get("k");
  if (flags.has("c") && e !== undefined) {
    throw new UsageError("tentacle-client: Flags -c and -e can not be used at the same time.");
  }
  if (f !== undefined && e === undefined) {
    throw new UsageError("tentacle-client: Flag -e must be set to enable peer certificate verify.");
  }
  if (k !== undefined && e === undefined) {
    throw new UsageError("tentacle-client: Flag -e must be set to use a private key file.");
  }
  if (flags.has("c")) client.tls = true;
  if (typeof e === "string") {
    client.tls = {
      certFile: e,
      ...(typeof k === "string" ? { keyFile: k } : {}),
      ...(typeof f === "string" ? { caFile: f } : {}),
    };
  }
  const p = flags.get("p");
  if (typeof p === "string") {
    client.port = int(p, 1, 65535, `tentacle-client: Port ${p} is not valid.`);
  }
  const r = flags.get("r");
  const retries = typeof r === "string"
    ? int(r, 1, 1e6, "tentacle-client: Invalid number of retries for network operations.")
    : 3;
  const t = flags.get("t");
  const timeout = typeof t === "string"
    ? int(t, 1, 1e6, "tentacle-client: Invalid timeout for network operations.")
    : 1;
  client.idleTimeoutMs = timeout * 1000 * (retries + 1);
  const x = flags.get("x");
  if (typeof x === "string" && x !== "") client.password = x;
  const get = flags.has("g");
  if (!get && files.length === 0) throw new UsageError("tentacle-client: No files to send.");
  return {
    client,
    get,
    compress: flags.has("z"),
    verbose: flags.has("v"),
    quiet: flags.has("q"),
    files,
  };
}

/** Maps a `tentacle:` section (reference config-file keys, any scalar values) to server settings. */
export function serverSettingsFromConfig(section: Record<string, unknown>): ServerSettings {
  const conf: Record<string, string> = {};
  for (const [k, v] of Object.entries(section)) {
    if (v === null || v === undefined) continue;
    conf[k] = typeof v === "boolean" ? (v ? "1" : "0") : String(v);
  }
  return resolveServerSettings(new Map(), conf);
}

/**
 * The `tentacle:` section of dmonitor.yaml (the reference's config-file keys) as server settings,
 * with a relative `directory` resolved against the config tree; null when there is no section.
 */
export const tentacleSection: SectionParser<ServerSettings | null> = {
  key: "tentacle",
  parse(section, base, problems) {
    if (section === undefined || section === null) return null;
    const fail = (message: string) => {
      problems.push({ file: "dmonitor.yaml", key: "tentacle", message });
      return null;
    };
    if (typeof section !== "object" || Array.isArray(section)) {
      return fail("must be a mapping of tentacle_server config-file keys (directory, port, ...)");
    }
    const s = { ...(section as Record<string, unknown>) };
    if (typeof s.directory === "string" && !isAbsolute(s.directory)) {
      s.directory = resolve(base.root, s.directory);
    }
    try {
      return serverSettingsFromConfig(s);
    } catch (e) {
      return fail((e as Error).message.replace(/^tentacle-server: /, ""));
    }
  },
};
