/**
 * Who may read the status page, the JSON view and the metrics: clients whose address falls in
 * `status.allow` (loopback by default), or anyone presenting the token in `status.token_file`.
 * Address matching is pure; {@link loadStatusAccess} reads the token file.
 * @module
 */
import { resolve } from "node:path";
import { isIPv4, isIPv6 } from "../config/values.ts";
import type { Config } from "../config/types.ts";
import { ConfigError, type ConfigProblem } from "../errors/mod.ts";
import { parseStatusSettings, type StatusSettings } from "./settings.ts";

/** A network: address bytes (4 or 16) and prefix length. */
export interface Cidr {
  bytes: Uint8Array;
  prefix: number;
}

/** Address bytes of an IPv4 or IPv6 literal (no brackets, no zone); null when it is neither. */
export function addressBytes(ip: string): Uint8Array | null {
  if (isIPv4(ip)) return new Uint8Array(ip.split(".").map(Number));
  if (!isIPv6(ip)) return null;
  let s = ip;
  const tail: number[] = [];
  const i = s.lastIndexOf(":");
  if (s.slice(i + 1).includes(".")) {
    const v = s.slice(i + 1).split(".").map(Number);
    tail.push((v[0]! << 8) | v[1]!, (v[2]! << 8) | v[3]!);
    s = s.slice(0, i + 1);
    if (!s.endsWith("::")) s = s.slice(0, -1);
  }
  const groups = (p: string) => (p === "" ? [] : p.split(":").map((g) => parseInt(g, 16)));
  const halves = s.split("::");
  let all: number[];
  if (halves.length === 2) {
    const head = groups(halves[0]!);
    const rest = groups(halves[1]!);
    const fill = 8 - head.length - rest.length - tail.length;
    if (fill < 0) return null;
    all = [...head, ...new Array<number>(fill).fill(0), ...rest, ...tail];
  } else {
    all = [...groups(halves[0]!), ...tail];
  }
  if (all.length !== 8) return null;
  const out = new Uint8Array(16);
  all.forEach((g, k) => {
    out[k * 2] = g >> 8;
    out[k * 2 + 1] = g & 0xff;
  });
  return out;
}

/** Parses `10.0.0.0/8`, `2001:db8::/32` or a bare address (a /32 or /128). */
export function parseCidr(s: string): Cidr | null {
  const [ip, len, ...extra] = s.trim().split("/");
  if (extra.length > 0 || ip === undefined) return null;
  const bytes = addressBytes(ip);
  if (!bytes) return null;
  const max = bytes.length * 8;
  if (len === undefined) return { bytes, prefix: max };
  if (!/^\d{1,3}$/.test(len) || Number(len) > max) return null;
  return { bytes, prefix: Number(len) };
}

/** IPv4-mapped IPv6 (`::ffff:a.b.c.d`) as its IPv4 bytes, so dual-stack listeners match v4 rules. */
function unmap(b: Uint8Array): Uint8Array {
  if (b.length === 16 && b.slice(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff) {
    return b.slice(12);
  }
  return b;
}

/** True when `ip` lies in `net`. */
export function cidrContains(net: Cidr, ip: string): boolean {
  const raw = addressBytes(ip.replace(/^\[|\]$/g, "").replace(/%.*$/, ""));
  if (!raw) return false;
  const b = unmap(raw);
  if (b.length !== net.bytes.length) return false;
  let bits = net.prefix;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((b[i]! & mask) !== (net.bytes[i]! & mask)) return false;
  }
  return true;
}

/** The resolved access rules the HTTP routes enforce. */
export interface StatusAccess {
  settings: StatusSettings;
  /** The token from `token_file`, or null when none is configured. */
  token: string | null;
  /** The running node's own token (`<state_dir>/status.token`, see local_token.ts). */
  localToken?: string | null;
}

/** Decides one request: allowed by address, by token, or not at all. Pure. */
export function isAllowed(
  access: StatusAccess,
  remoteIp: string | null,
  token: string | null,
): boolean {
  if (remoteIp !== null && access.settings.allow.some((n) => cidrContains(n, remoteIp))) {
    return true;
  }
  if (token === null) return false;
  if (access.localToken && timingSafeEqual(access.localToken, token)) return true;
  return access.token !== null && timingSafeEqual(access.token, token);
}

function timingSafeEqual(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  if (x.length !== y.length) return false;
  let diff = 0;
  for (let i = 0; i < x.length; i++) diff |= x[i]! ^ y[i]!;
  return diff === 0;
}

/** A token shorter than this is guessable. */
export const MIN_TOKEN_LENGTH = 16;

/**
 * Parses the `status:` section of `config` and reads its token file; throws one ConfigError naming
 * dmonitor.yaml, the key and the value for every problem.
 */
export async function loadStatusAccess(config: Config): Promise<StatusAccess> {
  const problems: ConfigProblem[] = [];
  const settings = parseStatusSettings(config.settings.sections.status, problems);
  let token: string | null = null;
  if (settings.tokenFile !== null) {
    const path = resolve(config.root, settings.tokenFile);
    const fail = (message: string) =>
      problems.push({ file: "dmonitor.yaml", key: "status.token_file", message });
    try {
      const st = await Deno.stat(path);
      const text = (await Deno.readTextFile(path)).trim();
      if (text.length < MIN_TOKEN_LENGTH || /\s/.test(text)) {
        fail(
          `must name a file holding one token of at least ${MIN_TOKEN_LENGTH} characters without spaces, ` +
            `got ${JSON.stringify(settings.tokenFile)} (${text.length} characters)`,
        );
      } else if (st.mode !== null && (st.mode & 0o077) !== 0) {
        fail(
          `must name a file not readable by group or others (chmod 600 ${path}), got ` +
            `${JSON.stringify(settings.tokenFile)} with mode ${
              (st.mode & 0o777).toString(8).padStart(4, "0")
            }`,
        );
      } else token = text;
    } catch (e) {
      const why = e instanceof Deno.errors.NotFound ? "no such file" : (e as Error).message;
      fail(`cannot be read (${why}: ${path}), got ${JSON.stringify(settings.tokenFile)}`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return { settings, token };
}
