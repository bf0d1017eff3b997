/**
 * The HTTP listener under the peer/status port, with the limits Deno.serve does not offer: our own
 * accept loop (Deno.listen / Deno.listenTls) feeding each connection to Deno.serveHttp, a deadline
 * for a new connection's first request headers, an idle timeout between keep-alive requests, a
 * deadline for each request, caps on open connections (total and per source address) derived from
 * the open-file limit, and an accept loop that survives EMFILE/ENFILE.
 *
 * At a cap, the oldest idle connection (no request in flight: an idle keep-alive or a client that
 * has not finished its headers) is closed to make room, as Apache's event MPM does; only when every
 * connection has a request in flight is the new one refused. A flood of idle or slowloris
 * connections therefore cannot lock out a peer or a monitoring scrape.
 * @module
 */
import { createLogger, type Logger } from "../log/mod.ts";
import { LogLimiter } from "./log_limiter.ts";

export interface ListenerLimits {
  /** From accept to the first request's headers (default 5 s). */
  headersTimeoutMs: number;
  /** Between keep-alive requests, headers included (default 15 s). */
  idleTimeoutMs: number;
  /** One request, headers to last byte of the response (default 10 min; the app's own deadline
   * is shorter). */
  requestTimeoutMs: number;
  /** Open connections at most. */
  maxConnections: number;
  /** Open connections from one source address at most. */
  maxConnectionsPerAddress: number;
}

/** The soft RLIMIT_NOFILE from the text of /proc/self/limits, or null. Pure. */
export function parseOpenFileLimit(limits: string): number | null {
  const m = /^Max open files\s+(\d+|unlimited)\s/m.exec(limits);
  if (!m) return null;
  return m[1] === "unlimited" ? Number.MAX_SAFE_INTEGER : Number(m[1]);
}

/**
 * Connection caps for an open-file limit: half of it for the listener (the rest is for plugins'
 * pipes, outgoing peer requests, SQLite, Tentacle), at most 4096; a quarter of that per address
 * (a peer's client opens one connection per concurrent request). Pure.
 */
export function connectionCaps(nofile: number | null): { total: number; perAddress: number } {
  const total = nofile === null ? 512 : Math.max(16, Math.min(4096, Math.floor(nofile / 2)));
  return { total, perAddress: Math.max(4, Math.floor(total / 4)) };
}

/** The caps for this process, from /proc/self/limits when it can be read. */
export function defaultLimits(): ListenerLimits {
  let nofile: number | null = null;
  try {
    nofile = parseOpenFileLimit(Deno.readTextFileSync("/proc/self/limits"));
  } catch { /* not Linux, or no /proc: the fallback */ }
  const caps = connectionCaps(nofile);
  return {
    headersTimeoutMs: 5_000,
    idleTimeoutMs: 15_000,
    requestTimeoutMs: 600_000,
    maxConnections: caps.total,
    maxConnectionsPerAddress: caps.perAddress,
  };
}

export type Handler = (
  req: Request,
  info: Deno.ServeHandlerInfo<Deno.NetAddr>,
) => Response | Promise<Response>;

/** Deno.serveHttp: still in the 2.x runtime, no longer in its types (deprecated since 1.x in
 * favour of Deno.serve, which cannot serve a connection we accepted ourselves). */
interface HttpConn {
  nextRequest(): Promise<
    { request: Request; respondWith(r: Promise<Response>): Promise<void> } | null
  >;
  close(): void;
}
const serveHttp = (Deno as unknown as { serveHttp?: (conn: Deno.Conn) => HttpConn }).serveHttp;

type Timer = ReturnType<typeof setTimeout>;

interface Tracked {
  conn: Deno.Conn;
  http: HttpConn | null;
  source: string;
  inFlight: number;
  timer: Timer | undefined;
  closed: boolean;
  /** The request loop ended: close once the last response is out. */
  ended: boolean;
}

export interface Listening {
  addr: Deno.NetAddr;
  /** Open connections now (for tests and metrics). */
  connections(): number;
  /** Stops accepting, closes idle connections, waits up to `graceMs` for requests in flight. */
  close(graceMs?: number): Promise<void>;
}

/** Serves `handler` on `listener` under `limits`. */
export function serveListener(
  listener: Deno.Listener,
  handler: Handler,
  limits: ListenerLimits,
  log: Logger = createLogger({ component: "dmonitor.listener" }),
): Listening {
  if (typeof serveHttp !== "function") {
    throw new Error("this Deno has no Deno.serveHttp: the peer listener needs Deno 2.9");
  }
  const all = new Set<Tracked>();
  /** Connections without a request in flight, oldest idle first (Set keeps insertion order). */
  const idle = new Set<Tracked>();
  const bySource = new Map<string, Set<Tracked>>();
  const limited = new LogLimiter({ clock: Date.now, perWindow: 5, windowMs: 60_000 });
  let stopping = false;
  const drained: (() => void)[] = [];

  const close = (t: Tracked) => {
    if (t.closed) return;
    t.closed = true;
    clearTimeout(t.timer);
    try {
      if (t.http) t.http.close();
      else t.conn.close();
    } catch { /* already closed by the peer or by serveHttp */ }
    all.delete(t);
    idle.delete(t);
    const s = bySource.get(t.source);
    s?.delete(t);
    if (s?.size === 0) bySource.delete(t.source);
    if (all.size === 0) { for (const d of drained.splice(0)) d(); }
  };
  const becomeIdle = (t: Tracked, ms: number) => {
    idle.add(t);
    clearTimeout(t.timer);
    t.timer = setTimeout(() => close(t), ms);
  };
  const oldestIdle = (among: Iterable<Tracked>): Tracked | null => {
    for (const t of among) if (t.inFlight === 0) return t;
    return null;
  };

  const admit = (conn: Deno.Conn): Tracked | null => {
    const source = (conn.remoteAddr as Deno.NetAddr).hostname ?? "unknown";
    const mine = bySource.get(source);
    if (mine && mine.size >= limits.maxConnectionsPerAddress) {
      const victim = oldestIdle(mine);
      if (!victim) return refuse(conn, "per-address", source);
      close(victim);
    }
    if (all.size >= limits.maxConnections) {
      const victim = oldestIdle(idle);
      if (!victim) return refuse(conn, "total", source);
      close(victim);
    }
    const t: Tracked = {
      conn,
      http: null,
      source,
      inFlight: 0,
      timer: undefined,
      closed: false,
      ended: false,
    };
    all.add(t);
    let set = bySource.get(source);
    if (!set) bySource.set(source, set = new Set());
    set.add(t);
    return t;
  };
  const refuse = (conn: Deno.Conn, cap: string, source: string): null => {
    try {
      conn.close();
    } catch { /* gone */ }
    limited.run(
      `cap-${cap}`,
      (suppressed) =>
        log.warn("connection refused: every connection has a request in flight", {
          cap,
          client: source,
          open: all.size,
          max: cap === "total" ? limits.maxConnections : limits.maxConnectionsPerAddress,
          suppressed: suppressed || undefined,
        }),
      (suppressed) => log.warn("connections refused at the cap", { cap, suppressed }),
    );
    return null;
  };

  const serve = async (t: Tracked) => {
    let http: HttpConn;
    try {
      http = serveHttp!(t.conn);
    } catch {
      close(t);
      return;
    }
    t.http = http;
    becomeIdle(t, limits.headersTimeoutMs);
    const info = { remoteAddr: t.conn.remoteAddr as Deno.NetAddr };
    try {
      for (;;) {
        const ev = await http.nextRequest();
        if (ev === null || t.closed) break;
        idle.delete(t);
        clearTimeout(t.timer);
        t.inFlight++;
        const deadline = setTimeout(() => close(t), limits.requestTimeoutMs);
        let done = () => {};
        const completed = new Promise<void>((r) => done = r);
        const response = (async () => {
          try {
            return await handler(ev.request, { ...info, completed });
          } catch (err) {
            log.error("request failed", { error: String(err) });
            return new Response("internal error\n", { status: 500 });
          }
        })();
        ev.respondWith(response).catch(() => {}).finally(() => {
          clearTimeout(deadline);
          done();
          t.inFlight--;
          if (t.inFlight === 0 && !t.closed) {
            if (stopping || t.ended) close(t);
            else becomeIdle(t, limits.idleTimeoutMs);
          }
        });
      }
    } catch { /* a broken connection ends only itself */ }
    // Let responses in flight finish before the connection is dropped.
    t.ended = true;
    if (t.inFlight === 0) close(t);
  };

  const acceptLoop = (async () => {
    let backoff = 0;
    let failures = 0;
    for (;;) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch (err) {
        if (
          stopping || err instanceof Deno.errors.BadResource ||
          err instanceof Deno.errors.Interrupted
        ) {
          return;
        }
        // EMFILE/ENFILE (or any other accept error): say so once, free an idle slot, wait, go on.
        if (failures++ === 0) {
          log.error("cannot accept connections; backing off and serving the open ones", {
            error: (err as Error).message,
            open: all.size,
          });
        }
        const victim = oldestIdle(idle);
        if (victim) close(victim);
        backoff = Math.min(1000, backoff === 0 ? 50 : backoff * 2);
        await new Promise((r) => setTimeout(r, backoff));
        continue;
      }
      if (failures > 0) {
        log.warn("accepting connections again", { failed_accepts: failures, open: all.size });
        failures = 0;
        backoff = 0;
      }
      if (stopping) {
        conn.close();
        continue;
      }
      const t = admit(conn);
      if (t) serve(t);
    }
  })();

  return {
    addr: listener.addr as Deno.NetAddr,
    connections: () => all.size,
    async close(graceMs = 5_000) {
      stopping = true;
      try {
        listener.close();
      } catch { /* closed */ }
      await acceptLoop;
      for (const t of [...idle]) close(t);
      if (all.size > 0) {
        let timer: Timer | undefined;
        await Promise.race([
          new Promise<void>((r) => drained.push(r)),
          new Promise<void>((r) => timer = setTimeout(r, graceMs)),
        ]);
        clearTimeout(timer);
        for (const t of [...all]) close(t);
      }
    },
  };
}
