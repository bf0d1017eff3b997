/**
 * The built-in checks, so a node works on an appliance with no plugins installed. Each check
 * returns an outcome and never throws: network errors, bad parameters and timeouts all become a
 * FAIL with one line naming `host:port` and the reason. Every check stops promptly when
 * `ctx.signal` aborts and closes what it opened.
 *
 * @example
 * ```ts
 * import { BUILTIN_CHECKS } from "./mod.ts";
 * const tcp = BUILTIN_CHECKS.get("tcp")!;
 * const outcome = await tcp.run({
 *   host: "127.0.0.1",
 *   params: { port: 22 },
 *   signal: AbortSignal.timeout(5000),
 *   timeoutMs: 5000,
 * });
 * console.log(outcome.status, outcome.output);
 * ```
 * @module
 */
import type { BuiltinCheck } from "./types.ts";
import { dns } from "./dns.ts";
import { heartbeat } from "./heartbeat.ts";
import { http, https } from "./http.ts";
import { ping } from "./ping.ts";
import { smtp } from "./smtp.ts";
import { ssh } from "./ssh.ts";
import { tcp } from "./tcp.ts";
import { tls } from "./tls.ts";

export type { BuiltinCheck, CheckContext, CheckOutcome, ParamSpec, ParamType } from "./types.ts";
export { createPingCheck } from "./ping.ts";
export { createHeartbeatCheck, HEARTBEAT_PARAMS, heartbeatTiming } from "./heartbeat.ts";

/** Every built-in check by name: ping, tcp, ssh, http, https, dns, smtp, tls, heartbeat. */
export const BUILTIN_CHECKS: ReadonlyMap<string, BuiltinCheck> = new Map(
  [ping, tcp, ssh, http, https, dns, smtp, tls, heartbeat].map((c) => [c.name, c]),
);
