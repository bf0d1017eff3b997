/**
 * The `status:` section of dmonitor.yaml, parsed purely. Every problem names dmonitor.yaml, the
 * key (`status.allow[1]`) and the offending value.
 * @module
 */
import { type Parsed, parseDuration, show } from "../config/values.ts";
import { applyFields, type Field, field, type Nested } from "../config/fields.ts";
import type { SectionParser } from "../config/types.ts";
import type { ConfigProblem } from "../errors/mod.ts";
import { type Cidr, parseCidr } from "./cidr.ts";

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

function parseList(v: unknown): Parsed<unknown[]> {
  const list = typeof v === "string" ? [v] : v;
  return Array.isArray(list) ? { ok: true, value: list } : {
    ok: false,
    message: `must be a list of addresses or networks such as 127.0.0.0/8 or ::1, got ${show(v)}`,
  };
}

function parseTokenFile(v: unknown): Parsed<string> {
  return typeof v !== "string" || v.trim() === "" || v.includes("\0")
    ? { ok: false, message: `must be the path of a file holding the token, got ${show(v)}` }
    : { ok: true, value: v };
}

/** The keys of `status:`: key, parser, setter. */
const STATUS_FIELDS: readonly Field<StatusSettings>[] = [
  field("allow", parseList, (s, list) => {
    const bad: Nested[] = [];
    s.allow = [];
    list.forEach((item, i) => {
      const net = typeof item === "string" ? parseCidr(item) : null;
      if (net) s.allow.push(net);
      else {
        bad.push({
          key: `allow[${i}]`,
          message: `must be an address or network such as 192.0.2.0/24 or 2001:db8::/32, got ${
            show(item)
          }`,
        });
      }
    });
    s.allowText = list.map(String);
    return bad;
  }),
  field("token_file", parseTokenFile, (s, x) => {
    s.tokenFile = x;
  }),
  field("refresh", (v) => parseDuration(v, 5_000, 3_600_000), (s, x) => {
    s.refresh = x;
  }),
];

/** Parses the raw `status` value (undefined when the section is absent). */
export function parseStatusSettings(raw: unknown, problems: ConfigProblem[]): StatusSettings {
  const s: StatusSettings = {
    allow: STATUS_DEFAULTS.allow.map((a) => parseCidr(a)!),
    allowText: [...STATUS_DEFAULTS.allow],
    tokenFile: null,
    refresh: STATUS_DEFAULTS.refresh,
  };
  applyFields(raw, s, STATUS_FIELDS, {
    file: "dmonitor.yaml",
    section: "status",
    hint: "allow, token_file, refresh",
    problems,
  });
  return s;
}

/** The `status:` section's parser, composed by lib/node/load.ts into the node's configuration. */
export const statusSection: SectionParser<StatusSettings> = {
  key: "status",
  parse: (raw, _base, problems) => parseStatusSettings(raw, problems),
};
