/**
 * Small helpers every built-in check shares: reading typed parameters, naming endpoints, timing,
 * and turning errors (including aborts) into one readable line.
 * @module
 */
import type { ParamValue } from "../config/types.ts";
import type { BuiltinCheck, CheckContext, CheckOutcome, ParamSpec } from "./types.ts";

/** A parameter is missing or has the wrong type; the check reports it as a FAIL. */
export class CheckParamError extends Error {
  override name = "CheckParamError";
}

/** Typed access to a check's parameters, falling back to the spec's defaults. */
export class Params {
  constructor(
    readonly values: Record<string, ParamValue>,
    readonly specs: Record<string, ParamSpec>,
  ) {}

  #raw(key: string): ParamValue | undefined {
    return this.values[key] ?? this.specs[key]?.default;
  }

  /** A `port` or `int` parameter; throws when missing or not an integer. */
  int(key: string): number {
    const v = this.#raw(key);
    if (v === undefined) throw new CheckParamError(`parameter '${key}' is required`);
    if (typeof v !== "number" || !Number.isInteger(v)) {
      throw new CheckParamError(`parameter '${key}' must be an integer, got ${JSON.stringify(v)}`);
    }
    return v;
  }

  /** An optional `int` parameter: undefined when neither set nor defaulted. */
  optInt(key: string): number | undefined {
    return this.#raw(key) === undefined ? undefined : this.int(key);
  }

  /** An optional `string` parameter: undefined when neither set nor defaulted. */
  str(key: string): string | undefined {
    const v = this.#raw(key);
    if (v === undefined) return undefined;
    if (typeof v !== "string") {
      throw new CheckParamError(`parameter '${key}' must be a string, got ${JSON.stringify(v)}`);
    }
    return v;
  }

  /** A `bool` parameter; false when neither set nor defaulted. */
  bool(key: string): boolean {
    const v = this.#raw(key);
    if (v === undefined) return false;
    if (typeof v !== "boolean") {
      throw new CheckParamError(
        `parameter '${key}' must be true or false, got ${JSON.stringify(v)}`,
      );
    }
    return v;
  }
}

/**
 * Builds a {@link BuiltinCheck} whose `run` never throws: a bad parameter or a bug in `body`
 * becomes a FAIL outcome with one line, because a check must report, not crash the scheduler.
 */
export function defineCheck(
  def: Omit<BuiltinCheck, "run">,
  body: (ctx: CheckContext, p: Params) => Promise<CheckOutcome>,
): BuiltinCheck {
  return {
    ...def,
    async run(ctx: CheckContext): Promise<CheckOutcome> {
      try {
        return await body(ctx, new Params(ctx.params, def.params));
      } catch (e) {
        if (e instanceof CheckParamError) return fail(`${def.name}: ${e.message}`);
        return fail(`${def.name} check error: ${errorText(e)}`);
      }
    },
  };
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;

/**
 * 4 or 6 for an IP literal, else 0: node:net's `isIP`, written out so that the checks need not
 * load node:net (with node:tls and node:https, 5-8 MiB of resident memory) for this alone. An
 * IPv6 literal may carry a zone (`fe80::1%eth0`) and end in dotted IPv4 (`::ffff:1.2.3.4`).
 *
 * @example
 * ```ts
 * ipVersion("192.0.2.1"); // 4
 * ipVersion("::1"); // 6
 * ipVersion("db1.example.com"); // 0
 * ```
 */
export function ipVersion(s: string): 0 | 4 | 6 {
  if (IPV4.test(s)) return 4;
  const pct = s.indexOf("%");
  const addr = pct === -1 ? s : s.slice(0, pct);
  if (pct !== -1 && (pct === s.length - 1 || /[\s%]/.test(s.slice(pct + 1)))) return 0;
  if (!addr.includes(":")) return 0;
  const halves = addr.split("::");
  if (halves.length > 2) return 0;
  const groups = (part: string) => (part === "" ? [] : part.split(":"));
  const all = halves.flatMap(groups);
  let count = all.length;
  const last = all.at(-1);
  if (last !== undefined && last.includes(".")) {
    if (!IPV4.test(last)) return 0;
    all.pop();
    count++; // dotted IPv4 fills two groups
  }
  if (!all.every((g) => HEX_GROUP.test(g))) return 0;
  return (halves.length === 2 ? count <= 7 : count === 8) ? 6 : 0;
}

/** True for an IPv6 literal (the config keeps them without brackets). */
export function isIPv6(host: string): boolean {
  return host.includes(":");
}

/** `host:port`, bracketing IPv6 literals: `[::1]:22`. */
export function hostPort(host: string, port: number): string {
  return isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Milliseconds since `t0` (a `performance.now()` reading). */
export function since(t0: number): number {
  return performance.now() - t0;
}

/** Human duration: one decimal below 10 ms (loopback answers are sub-millisecond), else whole ms. */
export function fmtMs(ms: number): string {
  return ms < 10 ? `${ms.toFixed(1)} ms` : `${Math.round(ms)} ms`;
}

/** Nagios-style perfdata for a duration: `time=0.000412s`. */
export function timePerf(ms: number): string {
  return `time=${(ms / 1000).toFixed(6)}s`;
}

/**
 * Why the signal fired, for messages: a `TimeoutError` reason (what `AbortSignal.timeout` and the
 * node's deadline use) is a timeout; anything else, such as shutdown, is "aborted".
 */
export function abortText(ctx: CheckContext): string {
  const reason: unknown = ctx.signal.reason;
  if (reason instanceof DOMException && reason.name === "TimeoutError") {
    return `timed out after ${ctx.timeoutMs} ms`;
  }
  return "aborted";
}

/**
 * One line for an error, without the noise Deno adds: `(os error 111)`, fetch's
 * `error sending request for url (...)` wrapper, and `TypeError: fetch failed` around the cause.
 */
export function errorText(err: unknown): string {
  let e: unknown = err;
  // fetch wraps the useful error in `cause`; follow the chain to the most specific message.
  while (e instanceof Error && e.cause instanceof Error) e = e.cause;
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code === "string" && code in NODE_CODES) return NODE_CODES[code]!;
  let msg = e instanceof Error ? e.message : String(e);
  msg = msg
    .replace(/^error sending request\b.*?: client error \((\w+)\): /, "")
    .replace(/^error sending request\b[^:]*: /, "")
    .replace(/ \(os error \d+\)/g, "");
  return oneLine(msg) || (e instanceof Error ? e.name : "unknown error");
}

/** node:net and node:tls errors say `connect ECONNREFUSED 1.2.3.4:443`; use the words Deno uses. */
const NODE_CODES: Record<string, string> = {
  ECONNREFUSED: "Connection refused",
  ECONNRESET: "Connection reset by peer",
  EHOSTUNREACH: "No route to host",
  ENETUNREACH: "Network is unreachable",
  ETIMEDOUT: "Connection timed out",
  ENOTFOUND: "Name or service not known",
  EAI_AGAIN: "Temporary failure in name resolution",
};

/** Collapses control characters and whitespace runs so output stays on one line. */
export function oneLine(s: string): string {
  // deno-lint-ignore no-control-regex
  return s.replace(/[\x00-\x1f\x7f]+/g, " ").replace(/ {2,}/g, " ").trim();
}

/** A FAIL outcome. */
export function fail(output: string, perfdata?: string): CheckOutcome {
  return perfdata === undefined ? { status: "FAIL", output } : { status: "FAIL", output, perfdata };
}

/** An OK outcome. */
export function ok(output: string, perfdata?: string): CheckOutcome {
  return perfdata === undefined ? { status: "OK", output } : { status: "OK", output, perfdata };
}

/** Quotes what a peer sent (JSON string syntax, cut at `max` characters) so it cannot pass for ours. */
export function quote(s: string, max = 80): string {
  const cut = s.length > max ? s.slice(0, max) + "..." : s;
  return JSON.stringify(cut);
}
