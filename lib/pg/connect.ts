/**
 * Opening PostgreSQL through `npm:pg` (node-postgres: pure JavaScript without its optional native
 * addon, the most used and longest maintained driver, runs on Deno's Node compatibility):
 * {@link openPg} makes the pool behind the small {@link Sql} interface the stores use (the files it
 * needs are read by ./files.ts, which a node loads without the driver). 64-bit integers come back as numbers: every one we store is
 * an epoch-ms time or a counter.
 *
 * Not `npm:postgres`: its 3.4.9 crashes the process with an uncatchable TypeError (`socket.write`
 * on a closed connection, from a setImmediate) when the server goes away mid-query; upstream
 * issues porsager/postgres#1066, #1154, #1208 are open, their fixes unmerged. Our PostgreSQL
 * restart test hit it.
 * @module
 */
// @ts-types="npm:@types/pg@^8.15"
import pg from "pg";
import { StoreError } from "../errors/mod.ts";
import { describePg, type PgConnect } from "./files.ts";

export { describePg, loadPgFiles, type PgConnect } from "./files.ts";

/** Rows of a result, with the number of rows the statement affected. */
export type Rows = Record<string, unknown>[] & { count: number };

/** What the stores need of a connection pool. */
export interface Sql {
  /** One statement with `$1`.. parameters. */
  unsafe(text: string, params?: readonly unknown[]): Promise<Rows>;
  /** Runs `fn` in one transaction on one connection: committed when it resolves, else rolled back. */
  begin<T>(fn: (tx: Sql) => Promise<T>): Promise<T>;
  /** Closes the pool (waits up to `timeout` seconds for running statements). */
  end(o?: { timeout?: number }): Promise<void>;
}

// int8 as a number (epoch ms, counters), on every pool of this process.
pg.types.setTypeParser(20, (x: string) => Number(x));

function rows(r: pg.QueryResult): Rows {
  const out = (r.rows ?? []) as Rows;
  out.count = r.rowCount ?? 0;
  return out;
}

function onClient(c: pg.ClientBase): Sql {
  const self: Sql = {
    unsafe: async (text, params) => rows(await c.query(text, params as unknown[] | undefined)),
    // Already in a transaction: the outer one covers it.
    begin: (fn) => fn(self),
    end: () => Promise.resolve(),
  };
  return self;
}

/** A pool of connections to the store; reconnects by itself after the server restarted. */
export function openPg(c: PgConnect, o: { max?: number } = {}): Sql {
  const s = c.settings;
  let ssl: pg.PoolConfig["ssl"] = false;
  if (s.tls) {
    ssl = s.tls.mode === "require" ? { rejectUnauthorized: false } : {
      rejectUnauthorized: true,
      ...(c.tls?.ca ? { ca: c.tls.ca } : {}),
      ...(c.tls?.cert ? { cert: c.tls.cert, key: c.tls.key } : {}),
      servername: s.host,
    };
  }
  let pool: pg.Pool;
  try {
    pool = new pg.Pool({
      host: s.path ?? s.host,
      port: s.port,
      database: s.database,
      user: s.user,
      ...(c.password !== undefined ? { password: c.password } : {}),
      ssl,
      max: o.max ?? s.poolSize,
      connectionTimeoutMillis: s.connectTimeoutMs,
      idleTimeoutMillis: 60_000,
      application_name: "dmonitor",
      keepAlive: true,
    });
  } catch (e) {
    throw new StoreError(`Cannot open ${describePg(s)}: ${(e as Error).message}`, { cause: e });
  }
  // An idle connection the server closed (a restart) is dropped from the pool; the next query
  // opens a new one. Without a listener the error would end the process.
  pool.on("error", () => {});
  return {
    unsafe: async (text, params) => rows(await pool.query(text, params as unknown[] | undefined)),
    begin: async <T>(fn: (tx: Sql) => Promise<T>): Promise<T> => {
      const client = await pool.connect();
      let broken: unknown = null;
      const onError = (e: unknown) => (broken = e);
      client.on("error", onError);
      try {
        await client.query("BEGIN");
        const out = await fn(onClient(client));
        await client.query("COMMIT");
        return out;
      } catch (e) {
        await client.query("ROLLBACK").catch((r: unknown) => (broken ??= r));
        throw e;
      } finally {
        client.off("error", onError);
        // A connection that failed is destroyed, not handed to the next caller.
        client.release(broken ? (broken as Error) : undefined);
      }
    },
    end: async () => {
      await pool.end();
    },
  };
}

/** The server's clock in epoch ms (leases are timed by it, so nodes' clocks need not agree). */
export const NOW_MS = "(extract(epoch from clock_timestamp()) * 1000)::bigint";
