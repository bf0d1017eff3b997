/**
 * Parses the top level of `dmonitor.yaml` (already decoded from YAML) into {@link Settings}, by a
 * field table. Keys owned by other parts (`smtp:`, `peer:`, ...) are handed back raw, for their
 * section parsers (see ./sections.ts). Pure.
 * @module
 */
import type { ConfigProblem } from "../errors/mod.ts";
import type { QuorumRule, Settings } from "./types.ts";
import { applyFields, type Field, field } from "./fields.ts";
import {
  parseChoice,
  type Parsed,
  parseDuration,
  parseHostPort,
  parseInteger,
  parseString,
  show,
} from "./values.ts";

export const SETTINGS_FILE = "dmonitor.yaml";

export const DEFAULTS = {
  listen: { hostname: "0.0.0.0", port: 2929 },
  quorum: { kind: "count", count: 2 } as QuorumRule,
  interval: 60_000,
  timeout: 10_000,
  retries: 0,
  state_dir: "/var/lib/dmonitor",
  plugin_user: "nobody",
  concurrency: 16,
  history_retention: 7 * 86_400_000,
  remind: 0,
} as const;

const SECOND = 1000;
const DAY = 86_400_000;

/** Parses `quorum`: a count of nodes (>= 1) or a percentage of all nodes such as `50%`. */
export function parseQuorum(v: unknown): Parsed<QuorumRule> {
  if (typeof v === "number" && parseInteger(v, 1, 1000).ok) {
    return { ok: true, value: { kind: "count", count: v } };
  }
  const m = typeof v === "string" ? /^(\d{1,3})%$/.exec(v.trim()) : null;
  if (m && Number(m[1]) >= 1 && Number(m[1]) <= 100) {
    return { ok: true, value: { kind: "percent", percent: Number(m[1]) } };
  }
  return {
    ok: false,
    message: `must be a node count such as 2 or a percentage such as 50%, got ${show(v)}`,
  };
}

function parseListen(v: unknown): Parsed<{ host: string; port: number }> {
  if (typeof v === "number") return parseHostPort(`:${v}`, 2929);
  if (typeof v === "string") return parseHostPort(v, 2929);
  return { ok: false, message: `must be an address such as 0.0.0.0:2929, got ${show(v)}` };
}

function parseRemind(v: unknown): Parsed<number> {
  if (v === 0 || v === "off" || v === false) return { ok: true, value: 0 };
  return parseDuration(v, 60 * SECOND, 30 * DAY);
}

const passFail = (v: unknown) => parseChoice(v, ["pass", "fail"] as const);

/** The top-level keys of dmonitor.yaml: key, parser, setter. */
export const SETTINGS_FIELDS: readonly Field<Settings>[] = [
  field("node", (v) => parseString(v, 253), (s, x) => {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(x)) {
      return `must be a node name (letters, digits, '.', '-', '_'), got ${show(x)}`;
    }
    s.node = x;
  }),
  field("listen", parseListen, (s, x) => {
    s.listen = { hostname: x.host || "0.0.0.0", port: x.port };
  }),
  field("quorum", parseQuorum, (s, x) => {
    s.quorum = x;
  }),
  field("interval", (v) => parseDuration(v, SECOND, DAY), (s, x) => {
    s.interval = x;
  }),
  field("timeout", (v) => parseDuration(v, 100, 600 * SECOND), (s, x) => {
    s.timeout = x;
    s.timeoutFrom = SETTINGS_FILE;
  }),
  field("retries", (v) => parseInteger(v, 0, 10), (s, x) => {
    s.retries = x;
  }),
  field("state_dir", (v) => parseString(v), (s, x) => {
    if (x === "") return `must be a directory path, got ""`;
    s.state_dir = x;
  }),
  field("plugin_user", (v) => parseString(v, 32), (s, x) => {
    if (!/^[a-z_][a-z0-9_-]*\$?$/i.test(x)) return `must be a user name, got ${show(x)}`;
    s.plugin_user = x;
  }),
  field("concurrency", (v) => parseInteger(v, 1, 1024), (s, x) => {
    s.concurrency = x;
  }),
  field("history_retention", (v) => parseDuration(v, 60 * SECOND, 3650 * DAY), (s, x) => {
    s.history_retention = x;
  }),
  field("warning", passFail, (s, x) => {
    s.warning = x;
  }),
  field("unknown", passFail, (s, x) => {
    s.unknown = x;
  }),
  field("remind", parseRemind, (s, x) => {
    s.remind = x;
  }),
];

/** A test's timeout when none is written: the smaller of 10 s and its interval. */
export function defaultTimeout(interval: number): number {
  return Math.min(DEFAULTS.timeout, interval);
}

export function defaultSettings(hostname: string): Settings {
  return {
    node: hostname,
    listen: { ...DEFAULTS.listen },
    quorum: DEFAULTS.quorum,
    interval: DEFAULTS.interval,
    timeout: DEFAULTS.timeout,
    retries: DEFAULTS.retries,
    state_dir: DEFAULTS.state_dir,
    plugin_user: DEFAULTS.plugin_user,
    concurrency: DEFAULTS.concurrency,
    history_retention: DEFAULTS.history_retention,
    warning: "pass",
    unknown: "fail",
    remind: DEFAULTS.remind,
    singleNode: false,
  };
}

/**
 * Parses the decoded YAML document; `hostname` is this machine's name (the default `node`).
 * `sectionKeys` are the keys other parts own: their values come back in `raw`, unparsed.
 */
export function parseSettings(
  doc: unknown,
  hostname: string,
  problems: ConfigProblem[],
  sectionKeys: readonly string[] = [],
): { settings: Settings; raw: Record<string, unknown> } {
  const settings = defaultSettings(hostname);
  const raw: Record<string, unknown> = {};
  const scope = { file: SETTINGS_FILE, section: "", hint: "YAML mapping", problems };
  if (doc !== null && doc !== undefined && typeof doc !== "object" || Array.isArray(doc)) {
    problems.push({
      file: SETTINGS_FILE,
      key: "",
      message: `must be a YAML mapping, got ${show(doc)}`,
    });
    return { settings, raw };
  }
  applyFields(doc, settings, SETTINGS_FIELDS, scope, sectionKeys);
  // Unwritten, a timeout never exceeds the interval: `interval: 2s` alone is valid.
  if (settings.timeoutFrom === undefined) {
    settings.timeout = defaultTimeout(settings.interval);
  } else if (settings.timeout > settings.interval) {
    problems.push({
      file: SETTINGS_FILE,
      key: "timeout",
      message: `must not exceed the interval (${settings.interval / 1000}s), got ${
        settings.timeout / 1000
      }s`,
    });
  }
  for (const k of sectionKeys) {
    const v = (doc as Record<string, unknown> | null)?.[k];
    if (v !== undefined) raw[k] = v;
  }
  return { settings, raw };
}
