/**
 * The Tentacle server's lifecycle: listeners (plain or TLS from the first byte), the connection cap
 * (which answers rather than hangs), idle timeouts and a graceful close.
 * @module
 */

import { METRICS } from "../metrics/mod.ts";
import net from "node:net";
import tls from "node:tls";
import { createLogger, type Logger } from "../log/mod.ts";
import { DEFAULT_PORT, type Filter, MAX_LINE, parseFilters } from "./protocol.ts";
import { passwordDigest } from "./password.ts";
import { Session, type SessionConfig } from "./session.ts";
import { Storage } from "./storage.ts";
import { ConnTransport } from "./conn_transport.ts";
import { DeadlineError, SocketTransport, type Transport } from "./transport.ts";

/** Default slowest transfer rate tolerated, bytes per second (64 kbit/s). */
export const DEFAULT_MIN_RATE = 8192;
import { LIMITS, readTreeText } from "../fsafe/mod.ts";

interface Listener {
  port: number;
  stop(): Promise<void>;
}

/** Options of startTentacleServer; names follow the reference's config-file keys where they can. */
export interface TentacleServerOptions {
  /** Storage directory (`-s`, `directory`); must exist. */
  directory: string;
  /** Addresses to listen on (`-a`); default `::` and `0.0.0.0` (whichever bind). */
  addresses?: string[];
  /** Port (`-p`); 0 picks a free one. Default 41121. */
  port?: number;
  /** Simultaneous sessions (`-c`); more are answered "busy" and closed. Default 10. */
  maxConnections?: number;
  /** Largest SEND/ZSEND body in bytes (`-m`). Default 2,000,000. */
  maxSize?: number;
  /** Largest size a ZSEND body may inflate to. Default 64 x maxSize. */
  maxUnzippedSize?: number;
  /** How long any single read or write may wait, in ms (`-t` x (`-r` + 1) s). Default 4000. */
  idleTimeoutMs?: number;
  /** How long a whole command line may take to arrive, in ms. Default: `idleTimeoutMs`. */
  lineTimeoutMs?: number;
  /**
   * Slowest transfer tolerated, in bytes per second: a body of n bytes must be done within
   * `idleTimeoutMs + n / minRate` s. Default 8192 (64 kbit/s), so 2 MB may take about 4 minutes.
   */
  minRate?: number;
  /** Server password (`-x`). */
  password?: string;
  /** TLS (`-e`, `-k`, `-f`): PEM file paths. With `caFile`, client certificates are required. */
  tls?: { certFile: string; keyFile: string; caFile?: string };
  /** Allow LS and MV (`-I`). */
  insecure?: boolean;
  /** Let SEND replace existing files (`-o`). */
  overwrite?: boolean;
  /** Filters (`-i`), parsed or as the reference's `regex:dir;regex:dir` string. */
  filters?: Filter[] | string;
  /** Serve the dmonitor extension (probe + SMV). Default true; false behaves as the reference. */
  extensions?: boolean;
  /** fsync uploads and their directory before they become visible. Default true. */
  fsync?: boolean;
  /** Longest command line in bytes. Default 1024. */
  maxLineLength?: number;
  /** How long an unconfirmed safe move (SMV) keeps its file locked, in ms. Default 60000. */
  leaseMs?: number;
  /** How long close() lets transfers in progress finish, in ms. Default 5000. */
  closeGraceMs?: number;
  logger?: Logger;
}

/** A running server. */
export interface TentacleServer {
  /** The port listened on (useful with port 0). */
  readonly port: number;
  /** Every address actually bound. */
  readonly addresses: string[];
  /** Sessions being served now (not counting refusals). */
  readonly activeSessions: number;
  /** Stops accepting, lets transfers in progress finish (bounded), drops idle connections. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Starts a Tentacle server.
 * @example
 * ```ts
 * await using srv = await startTentacleServer({ directory: "/var/spool/dmonitor/in", port: 0 });
 * console.log(srv.port);
 * ```
 */
export async function startTentacleServer(options: TentacleServerOptions): Promise<TentacleServer> {
  const log = options.logger ?? createLogger({ component: "tentacle" });
  const st = await Deno.stat(options.directory).catch(() => null);
  if (!st?.isDirectory) {
    throw new Error(`Cannot start tentacle server: directory ${options.directory} does not exist`);
  }
  const filters = typeof options.filters === "string"
    ? parseFilters(options.filters)
    : options.filters ?? [];
  const maxSize = options.maxSize ?? 2_000_000;
  const storage = new Storage(options.directory, filters, { fsync: options.fsync });
  await storage.prepare();
  const swept = await storage.sweep(Date.now(), 10 * 60_000);
  if (swept > 0) log.info("removed stale temporary files", { count: swept });

  const idleMs = options.idleTimeoutMs ?? 4000;
  const cfg: SessionConfig = {
    storage,
    passDigest: options.password ? passwordDigest(options.password) : null,
    insecure: options.insecure ?? false,
    overwrite: options.overwrite ?? false,
    maxSize,
    maxUnzippedSize: options.maxUnzippedSize ?? maxSize * 64,
    extensions: options.extensions ?? true,
    leaseMs: options.leaseMs ?? 60_000,
    deadlines: {
      lineMs: options.lineTimeoutMs ?? idleMs,
      baseMs: idleMs,
      minRate: options.minRate ?? DEFAULT_MIN_RATE,
    },
    logger: log,
  };
  const maxConn = options.maxConnections ?? 10;
  const maxLine = options.maxLineLength ?? MAX_LINE;
  const graceMs = options.closeGraceMs ?? 5000;

  const sessions = new Map<Session, Transport>();
  const open = new Set<Transport>();
  let refusing = 0;
  let rawSockets = 0;
  let closing = false;

  const serve = (io: Transport) => {
    if (closing) return void io.destroy();
    const busy = sessions.size >= maxConn;
    // Refusals are cheap but not free: beyond a second cap's worth, just drop the connection.
    if (busy && refusing >= maxConn) {
      log.warn("connection limit reached, dropped", { peer: io.peer });
      return void io.destroy();
    }
    if (busy) io.idleMs = Math.min(idleMs, 1000);
    const session = new Session(cfg, io, io.peer, { maxLine });
    if (busy) session.lineMs = Math.min(session.lineMs, 1000);
    open.add(io);
    if (busy) refusing++;
    else sessions.set(session, io);
    log.debug("client connected", { peer: io.peer, busy });
    METRICS.tentacleConnections.inc();
    session.run(busy).catch((e) => {
      METRICS.tentacleErrors.inc();
      if (e instanceof DeadlineError) {
        log.warn("slow client disconnected", { peer: io.peer, error: e.message });
      } else log.info("connection ended", { peer: io.peer, error: (e as Error).message });
    }).finally(async () => {
      if (busy) refusing--;
      sessions.delete(session);
      await io.end().catch(() => io.destroy());
      open.delete(io);
    });
  };

  let tlsOpts: tls.TlsOptions | null = null;
  if (options.tls) {
    const pem = (file: string) => readTreeText(file, { maxBytes: LIMITS.pem });
    const ca = options.tls.caFile ? await pem(options.tls.caFile) : undefined;
    tlsOpts = {
      cert: await pem(options.tls.certFile),
      key: await pem(options.tls.keyFile),
      ca,
      requestCert: ca !== undefined,
      rejectUnauthorized: ca !== undefined,
      handshakeTimeout: idleMs,
    };
  }

  /** Starts one listener on `host`; returns its port and how to stop it. */
  const listen = async (host: string, port: number): Promise<Listener> => {
    if (!tlsOpts) {
      // Plain TCP: Deno's own sockets (see conn_transport.ts for why).
      const l = Deno.listen({ hostname: host, port, transport: "tcp" });
      (async () => {
        for (;;) {
          let conn: Deno.TcpConn;
          try {
            conn = await l.accept();
          } catch (e) {
            if (closing || e instanceof Deno.errors.BadResource) return;
            log.error("accept failed", { address: host, error: (e as Error).message });
            await new Promise((r) => setTimeout(r, 100)); // e.g. out of file descriptors
            continue;
          }
          serve(new ConnTransport(conn, { idleMs }));
        }
      })();
      return { port: (l.addr as Deno.NetAddr).port, stop: () => Promise.resolve(l.close()) };
    }
    const srv = tls.createServer(tlsOpts, (socket: tls.TLSSocket) => {
      serve(new SocketTransport(socket, { idleMs }));
    });
    srv.on("connection", (raw: net.Socket) => {
      // Handshakes in flight are bounded separately from sessions: a flood cannot pile up.
      if (rawSockets >= maxConn * 3) return void raw.destroy();
      rawSockets++;
      raw.once("close", () => rawSockets--);
    });
    srv.on("tlsClientError", (e: Error) => log.info("TLS handshake failed", { error: e.message }));
    await new Promise<void>((resolve, reject) => {
      srv.once("error", reject);
      srv.listen({ host, port }, () => {
        srv.off("error", reject);
        resolve();
      });
    });
    srv.on("error", (e: Error) => log.error("listener error", { address: host, error: e.message }));
    return {
      port: (srv.address() as net.AddressInfo).port,
      stop: () => new Promise<void>((r) => srv.close(() => r())),
    };
  };

  const listeners: Listener[] = [];
  const bound: string[] = [];
  let port = options.port ?? DEFAULT_PORT;
  const addresses = options.addresses?.length ? options.addresses : ["::", "0.0.0.0"];
  for (const addr of addresses) {
    const host = addr === "0" ? "0.0.0.0" : addr;
    try {
      const l = await listen(host, port);
      port = l.port;
      listeners.push(l);
      bound.push(host);
      log.info("server listening", { address: host, port, tls: tlsOpts !== null });
    } catch (e) {
      // With the default pair, "::" is usually dual-stack and takes 0.0.0.0's port: not news.
      const quiet = !options.addresses?.length && listeners.length > 0;
      (quiet ? log.debug : log.warn)("cannot listen", {
        address: host,
        port,
        error: (e as Error).message,
      });
    }
  }
  if (listeners.length === 0) {
    throw new Error(
      `Cannot start tentacle server: no address of ${addresses.join(",")} could bind port ${port}`,
    );
  }

  let closed: Promise<void> | null = null;
  const close = () => {
    closed ??= (async () => {
      closing = true;
      const stopped = Promise.all(listeners.map((l) => l.stop()));
      for (const [session, io] of sessions) {
        session.stopping = true;
        if (session.idle) io.destroy();
      }
      const deadline = Date.now() + graceMs;
      while (sessions.size > 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
      }
      for (const io of open) io.destroy();
      while (open.size > 0) await new Promise((r) => setTimeout(r, 5));
      await stopped;
      log.info("server stopped", { port });
    })();
    return closed;
  };

  return {
    port,
    addresses: bound,
    get activeSessions() {
      return sessions.size;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
