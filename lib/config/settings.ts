/**
 * Parses `dmonitor.yaml` (already decoded from YAML) into {@link Settings}. Pure.
 * @module
 */
import type { ConfigProblem } from "../errors/mod.ts";
import type { QuorumRule, Settings } from "./types.ts";
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

/** Sections owned by other parts of dmonitor; kept raw here and validated by their owners. */
export const SECTION_KEYS = ["smtp", "peer", "tentacle", "spool", "sync", "status", "run_as"];

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

/** Parses the decoded YAML document; `hostname` is this machine's name (the default `node`). */
export function parseSettings(
  doc: unknown,
  hostname: string,
  problems: ConfigProblem[],
): Settings {
  const s: Settings = {
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
    sections: {},
  };
  if (doc === null || doc === undefined) return s;
  if (typeof doc !== "object" || Array.isArray(doc)) {
    problems.push({
      file: SETTINGS_FILE,
      key: "",
      message: `must be a YAML mapping, got ${show(doc)}`,
    });
    return s;
  }
  const fail = (key: string, message: string) =>
    problems.push({ file: SETTINGS_FILE, key, message });
  const take = <T>(key: string, r: Parsed<T>, set: (v: T) => void) =>
    r.ok ? set(r.value) : fail(key, r.message);
  for (const [key, v] of Object.entries(doc as Record<string, unknown>)) {
    switch (key) {
      case "node":
        take(key, parseString(v, 253), (x) => {
          if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(x)) {
            fail(key, `must be a node name (letters, digits, '.', '-', '_'), got ${show(x)}`);
          } else s.node = x;
        });
        break;
      case "listen": {
        const r = typeof v === "number"
          ? parseHostPort(`:${v}`, 2929)
          : typeof v === "string"
          ? parseHostPort(v, 2929)
          : {
            ok: false as const,
            message: `must be an address such as 0.0.0.0:2929, got ${show(v)}`,
          };
        take(key, r, (x) => s.listen = { hostname: x.host || "0.0.0.0", port: x.port });
        break;
      }
      case "quorum":
        take(key, parseQuorum(v), (x) => s.quorum = x);
        break;
      case "interval":
        take(key, parseDuration(v, SECOND, DAY), (x) => s.interval = x);
        break;
      case "timeout":
        take(key, parseDuration(v, 100, 600 * SECOND), (x) => s.timeout = x);
        break;
      case "retries":
        take(key, parseInteger(v, 0, 10), (x) => s.retries = x);
        break;
      case "state_dir":
        take(key, parseString(v), (x) => {
          if (x === "") fail(key, `must be a directory path, got ""`);
          else s.state_dir = x;
        });
        break;
      case "plugin_user":
        take(key, parseString(v, 32), (x) => {
          if (!/^[a-z_][a-z0-9_-]*\$?$/i.test(x)) fail(key, `must be a user name, got ${show(x)}`);
          else s.plugin_user = x;
        });
        break;
      case "concurrency":
        take(key, parseInteger(v, 1, 1024), (x) => s.concurrency = x);
        break;
      case "history_retention":
        take(key, parseDuration(v, 60 * SECOND, 3650 * DAY), (x) => s.history_retention = x);
        break;
      case "warning":
        take(key, parseChoice(v, ["pass", "fail"] as const), (x) => s.warning = x);
        break;
      case "unknown":
        take(key, parseChoice(v, ["pass", "fail"] as const), (x) => s.unknown = x);
        break;
      case "remind":
        if (v === 0 || v === "off" || v === false) s.remind = 0;
        else take(key, parseDuration(v, 60 * SECOND, 30 * DAY), (x) => s.remind = x);
        break;
      default:
        if (SECTION_KEYS.includes(key)) s.sections[key] = v;
        else fail(key, `is not a known setting (known: ${[...KNOWN].join(", ")})`);
    }
  }
  return s;
}

const KNOWN = [
  "node",
  "listen",
  "quorum",
  "interval",
  "timeout",
  "retries",
  "state_dir",
  "plugin_user",
  "concurrency",
  "history_retention",
  "warning",
  "unknown",
  "remind",
  ...SECTION_KEYS,
];
