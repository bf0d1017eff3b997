/**
 * The `status:` section of dmonitor.yaml, parsed purely. Every problem names dmonitor.yaml, the
 * key (`status.allow[1]`) and the offending value.
 * @module
 */
import { parseDuration, show } from "../config/values.ts";
import type { ConfigProblem } from "../errors/mod.ts";
import { type Cidr, parseCidr } from "./access.ts";

export interface StatusSettings {
  /** Client networks allowed without a token. */
  allow: Cidr[];
  /** `allow` as written, for messages and the README. */
  allowText: string[];
  /** Path of the token file as written (relative to the config tree), or null. */
  tokenFile: string | null;
  /** How often the page reloads itself, in ms. */
  refresh: number;
}

export const STATUS_DEFAULTS = {
  allow: ["127.0.0.0/8", "::1/128"],
  refresh: 30_000,
} as const;

const FILE = "dmonitor.yaml";
const KEYS = ["allow", "token_file", "refresh"];

/** Parses the raw `status` value (undefined when the section is absent). */
export function parseStatusSettings(raw: unknown, problems: ConfigProblem[]): StatusSettings {
  const s: StatusSettings = {
    allow: STATUS_DEFAULTS.allow.map((a) => parseCidr(a)!),
    allowText: [...STATUS_DEFAULTS.allow],
    tokenFile: null,
    refresh: STATUS_DEFAULTS.refresh,
  };
  if (raw === undefined || raw === null) return s;
  const fail = (key: string, message: string) =>
    problems.push({ file: FILE, key: `status.${key}`, message });
  if (typeof raw !== "object" || Array.isArray(raw)) {
    problems.push({
      file: FILE,
      key: "status",
      message: `must be a mapping (allow, token_file, refresh), got ${show(raw)}`,
    });
    return s;
  }
  for (const [key, v] of Object.entries(raw as Record<string, unknown>)) {
    switch (key) {
      case "allow": {
        const list = typeof v === "string" ? [v] : v;
        if (!Array.isArray(list)) {
          fail(
            key,
            `must be a list of addresses or networks such as 127.0.0.0/8 or ::1, got ${show(v)}`,
          );
          break;
        }
        const nets: Cidr[] = [];
        list.forEach((item, i) => {
          const net = typeof item === "string" ? parseCidr(item) : null;
          if (!net) {
            fail(
              `${key}[${i}]`,
              `must be an address or network such as 192.0.2.0/24 or 2001:db8::/32, got ${
                show(item)
              }`,
            );
          } else nets.push(net);
        });
        s.allow = nets;
        s.allowText = list.map(String);
        break;
      }
      case "token_file":
        if (typeof v !== "string" || v.trim() === "" || v.includes("\0")) {
          fail(key, `must be the path of a file holding the token, got ${show(v)}`);
        } else s.tokenFile = v;
        break;
      case "refresh": {
        const r = parseDuration(v, 5_000, 3_600_000);
        if (r.ok) s.refresh = r.value;
        else fail(key, r.message);
        break;
      }
      default:
        fail(key, `is not a known setting (known: ${KEYS.join(", ")})`);
    }
  }
  return s;
}

/** A validator for `loadConfig`'s `validators` hook: the `status:` section's problems (pure). */
export function statusProblems(
  config: { settings: { sections: Record<string, unknown> } },
): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  parseStatusSettings(config.settings.sections.status, problems);
  return problems;
}
