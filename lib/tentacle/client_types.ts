/**
 * The options of a Tentacle client, apart from the client so its I/O layer and the option
 * builders can name them without importing the client itself.
 * @module
 */

/** TLS settings of a client. Without `caFile` the server is not verified (as the reference). */
export interface TentacleClientTls {
  /** CA to verify the server against (`-f`); the host name or IP must match the certificate. */
  caFile?: string;
  /** Client certificate and key (`-e`, `-k`). */
  certFile?: string;
  keyFile?: string;
  /** Name to verify instead of `host`. */
  servername?: string;
}

/** Options of a TentacleClient. */
export interface TentacleClientOptions {
  /** Server address (`-a`). Default 127.0.0.1. */
  host?: string;
  /** Server port (`-p`). Default 41121. */
  port?: number;
  /** Local address to bind (`-b`). */
  localAddress?: string;
  /** Server password (`-x`). */
  password?: string;
  /** TLS from the first byte: `true` for no certificate and no verification (`-c`). */
  tls?: boolean | TentacleClientTls;
  /** How long any single connect, read or write may wait, in ms (`-t` x (`-r` + 1) s). */
  idleTimeoutMs?: number;
  /** Ask the server for dmonitor extensions after connecting (a harmless RECV). Default true. */
  probe?: boolean;
  /** Largest size a ZRECV body may inflate to. Default 1 GiB. */
  maxUnzippedSize?: number;
  /** fsync received files and their directory before renaming. Default true. */
  fsync?: boolean;
}
