/**
 * Pure validators for the scalar values found in the config tree. Each returns the parsed value or
 * a message fragment that quotes the offending value; callers attach file and key.
 * @module
 */

export type Parsed<T> = { ok: true; value: T } | { ok: false; message: string };

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const bad = (message: string): Parsed<never> => ({ ok: false, message });

/** Renders a value for an error message: strings quoted, others as YAML would show them. */
export function show(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v);
  if (v === null || v === undefined) return "nothing";
  if (typeof v === "object") return Array.isArray(v) ? "a list" : "a mapping";
  return String(v);
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * Parses a duration: `500ms`, `30s`, `5m`, `1h30m`, `2d`, or a bare number of seconds.
 * @example parseDuration("1m30s") // { ok: true, value: 90000 }
 */
export function parseDuration(v: unknown, min: number, max: number): Parsed<number> {
  let ms: number;
  if (typeof v === "number" && Number.isFinite(v)) {
    ms = v * 1000;
  } else if (typeof v === "string" && /^(\d+(\.\d+)?(ms|s|m|h|d))+$/.test(v.trim())) {
    ms = 0;
    for (const m of v.trim().matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)) {
      ms += Number(m[1]) * UNITS[m[2]!]!;
    }
  } else {
    return bad(`must be a duration like 30s, 5m or 1h, got ${show(v)}`);
  }
  ms = Math.round(ms);
  if (ms < min || ms > max) {
    return bad(`must be between ${formatDuration(min)} and ${formatDuration(max)}, got ${show(v)}`);
  }
  return ok(ms);
}

/** Formats milliseconds compactly: 90000 -> "1m30s", 500 -> "500ms". */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  let rest = Math.round(ms / 1000);
  const parts: string[] = [];
  for (const [unit, size] of [["d", 86400], ["h", 3600], ["m", 60], ["s", 1]] as const) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  return parts.join("");
}

/** An integer within bounds; accepts YAML integers only (not "3" strings, not 3.5). */
export function parseInteger(v: unknown, min: number, max: number): Parsed<number> {
  if (typeof v !== "number" || !Number.isInteger(v)) {
    return bad(`must be a whole number from ${min} to ${max}, got ${show(v)}`);
  }
  if (v < min || v > max) return bad(`must be from ${min} to ${max}, got ${show(v)}`);
  return ok(v);
}

export function parsePort(v: unknown): Parsed<number> {
  const r = parseInteger(v, 1, 65535);
  return r.ok ? r : bad(`must be 1-65535, got ${show(v)}`);
}

export function parseBool(v: unknown): Parsed<boolean> {
  return typeof v === "boolean" ? ok(v) : bad(`must be true or false, got ${show(v)}`);
}

export function parseString(v: unknown, maxLen = 4096): Parsed<string> {
  if (typeof v !== "string") return bad(`must be a string, got ${show(v)}`);
  if (v.length > maxLen) return bad(`must be at most ${maxLen} characters, got ${v.length}`);
  // deno-lint-ignore no-control-regex
  if (/[\x00-\x08\x0a-\x1f\x7f]/.test(v)) {
    return bad(`must not hold control characters, got ${show(v)}`);
  }
  return ok(v);
}

export function parseChoice<T extends string>(v: unknown, choices: readonly T[]): Parsed<T> {
  return typeof v === "string" && (choices as readonly string[]).includes(v)
    ? ok(v as T)
    : bad(`must be one of ${choices.join(", ")}, got ${show(v)}`);
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** True for a dotted-quad IPv4 literal. */
export function isIPv4(s: string): boolean {
  return IPV4.test(s);
}

/** True for an IPv6 literal (no brackets, no zone). */
export function isIPv6(s: string): boolean {
  if (!/^[0-9a-fA-F:.]+$/.test(s) || !s.includes(":")) return false;
  const dbl = s.split("::");
  if (dbl.length > 2) return false;
  let groups = s.split(":").filter((g) => g !== "");
  const last = groups[groups.length - 1];
  let extra = 0;
  if (last && last.includes(".")) {
    if (!isIPv4(last)) return false;
    groups = groups.slice(0, -1);
    extra = 2;
  }
  if (!groups.every((g) => /^[0-9a-fA-F]{1,4}$/.test(g))) return false;
  const n = groups.length + extra;
  return dbl.length === 2 ? n < 8 : n === 8;
}

/**
 * A host to check: a DNS name or an IP literal; never something that could be read as an option
 * (leading `-`) or a path (`/`, `..`).
 */
export function parseHostName(s: string): Parsed<string> {
  if (isIPv4(s) || isIPv6(s)) return ok(s);
  const why = `must be a DNS name or an IP address, got ${show(s)}`;
  if (s.length === 0 || s.length > 253) return bad(why);
  const name = s.endsWith(".") ? s.slice(0, -1) : s;
  const labels = name.split(".");
  const label = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
  if (!labels.every((l) => label.test(l))) return bad(why);
  // An all-numeric dotted name that is not a valid IPv4 (e.g. 999.1.1.1) is a typo, not a name.
  if (labels.every((l) => /^\d+$/.test(l))) return bad(why);
  return ok(s);
}

/** A test name maps to `plugins/check_<name>` and to built-in checks. */
export function parseTestName(s: string): Parsed<string> {
  return /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/.test(s)
    ? ok(s)
    : bad(`is not a valid test name (letters, digits, '-' and '_', at most 64), got ${show(s)}`);
}

/** A plain email address as used for `alert.d/<address>` file names. */
export function parseEmail(s: string): Parsed<string> {
  const m = /^([A-Za-z0-9.!#$%&'*+^_`{|}~-]{1,64})@([^@]+)$/.exec(s);
  if (!m || m[1]!.startsWith(".") || m[1]!.endsWith(".") || m[1]!.includes("..")) {
    return bad(`is not an email address, got ${show(s)}`);
  }
  const domain = parseHostName(m[2]!);
  if (!domain.ok || !m[2]!.includes(".") && m[2] !== "localhost") {
    return bad(`is not an email address (bad domain), got ${show(s)}`);
  }
  return ok(s);
}

/**
 * Parses `host`, `host:port`, `[v6]:port`, a bare IPv6 literal, or `:port`.
 * Returns the host without brackets ("" when omitted).
 */
export function parseHostPort(
  s: string,
  defaultPort: number,
): Parsed<{ host: string; port: number }> {
  const why = `must be host, host:port or [ipv6]:port, got ${show(s)}`;
  let host: string;
  let portText: string | undefined;
  const v6 = /^\[([^\]]+)\](?::(.*))?$/.exec(s);
  if (v6) {
    host = v6[1]!;
    portText = v6[2];
    if (!isIPv6(host)) return bad(why);
  } else if (isIPv6(s)) {
    host = s;
  } else {
    const i = s.lastIndexOf(":");
    host = i < 0 ? s : s.slice(0, i);
    portText = i < 0 ? undefined : s.slice(i + 1);
  }
  let port = defaultPort;
  if (portText !== undefined) {
    if (!/^\d{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) {
      return bad(`port must be 1-65535, got ${show(s)}`);
    }
    port = Number(portText);
  }
  if (host !== "" && !parseHostName(host).ok) return bad(why);
  return ok({ host, port });
}
