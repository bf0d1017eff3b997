/**
 * One place that turns a configured Tentacle target (a spool's `send_to`, a sync site) into
 * TentacleClient options, so the spool sender and the sync puller connect the same way (pure).
 * @module
 */
import type { TentacleClientOptions } from "./client_types.ts";

/** A Tentacle server as a settings section describes it. */
export interface TentacleTarget {
  host: string;
  port: number;
  password?: string;
  /** Client TLS: CA to verify the server, client certificate and key; null for plain TCP. */
  tls: { caFile?: string; certFile?: string; keyFile?: string } | null;
  /** Longest wait of any connect, read or write, in ms. */
  timeoutMs: number;
}

/**
 * Client options for `target`; `probe: false` skips the dmonitor extension probe (a sender only
 * uses SEND and RECV, which every server has).
 * @example clientOptionsFrom({ host: "127.0.0.1", port: 41121, tls: null, timeoutMs: 10_000 })
 */
export function clientOptionsFrom(
  target: TentacleTarget,
  opts: { probe?: boolean } = {},
): TentacleClientOptions {
  const t = target.tls;
  return {
    host: target.host,
    port: target.port,
    password: target.password,
    tls: t ? { caFile: t.caFile, certFile: t.certFile, keyFile: t.keyFile } : false,
    idleTimeoutMs: target.timeoutMs,
    ...(opts.probe === undefined ? {} : { probe: opts.probe }),
  };
}
