/**
 * Opening PostgreSQL through `npm:postgres` (pure JavaScript, maintained, runs on Deno's Node
 * compatibility): {@link loadPgFiles} reads the password and TLS files the `store:` section names
 * (at start, before the node drops root, like the other secrets), {@link openPg} makes the pool.
 * 64-bit integers come back as numbers: every one we store is an epoch-ms time or a counter.
 * @module
 */
import postgres from "postgres";
import { ConfigError, type ConfigProblem, StoreError } from "../errors/mod.ts";
import type { PgSettings } from "./settings.ts";

export type Sql = postgres.Sql<Record<string, never>>;

/** What {@link openPg} needs: the settings and the contents of the files they name. */
export interface PgConnect {
  settings: PgSettings;
  password?: string;
  tls?: { ca?: string; cert?: string; key?: string };
}

/** Reads `password_file` and the TLS files; throws ConfigError naming the key and the file. */
export async function loadPgFiles(s: PgSettings): Promise<PgConnect> {
  const problems: ConfigProblem[] = [];
  const read = async (key: string, path: string | undefined) => {
    if (path === undefined) return undefined;
    try {
      return await Deno.readTextFile(path);
    } catch (e) {
      problems.push({
        file: "dmonitor.yaml",
        key: `store.${key}`,
        message: `cannot read "${path}": ${(e as Error).message}`,
      });
      return undefined;
    }
  };
  const [pw, ca, cert, key] = await Promise.all([
    read("password_file", s.passwordFile),
    read("tls_ca", s.tls?.caFile),
    read("tls_cert", s.tls?.certFile),
    read("tls_key", s.tls?.keyFile),
  ]);
  const password = pw === undefined ? s.password : pw.split("\n")[0]!.replace(/\r$/, "");
  if (pw !== undefined && password === "") {
    problems.push({
      file: "dmonitor.yaml",
      key: "store.password_file",
      message: `"${s.passwordFile}" is empty (its first line is the password)`,
    });
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return { settings: s, password, tls: s.tls ? { ca, cert, key } : undefined };
}

/** Where the store is, for messages (never the password). */
export function describePg(s: PgSettings): string {
  const where = s.path ? `socket ${s.path}` : `${s.host}:${s.port}`;
  return `postgresql ${s.user}@${where}/${s.database}`;
}

/** A pool of connections to the store; reconnects by itself after the server restarted. */
export function openPg(c: PgConnect, o: { max?: number } = {}): Sql {
  const s = c.settings;
  let ssl: boolean | object = false;
  if (s.tls) {
    ssl = s.tls.mode === "require" ? { rejectUnauthorized: false } : {
      rejectUnauthorized: true,
      ...(c.tls?.ca ? { ca: c.tls.ca } : {}),
      ...(c.tls?.cert ? { cert: c.tls.cert, key: c.tls.key } : {}),
      servername: s.host,
    };
  }
  try {
    return postgres({
      host: s.path ?? s.host,
      port: s.port,
      ...(s.path ? { path: `${s.path}/.s.PGSQL.${s.port}` } : {}),
      database: s.database,
      user: s.user,
      ...(c.password !== undefined ? { password: c.password } : {}),
      ssl,
      max: o.max ?? s.poolSize,
      connect_timeout: Math.max(1, Math.ceil(s.connectTimeoutMs / 1000)),
      idle_timeout: 60,
      onnotice: () => {},
      // Numbers: our BIGINTs are epoch ms and counters, far below 2^53.
      types: {
        bigint: {
          to: 20,
          from: [20],
          parse: (x: string) => Number(x),
          serialize: (x: number) => String(x),
        },
      },
      connection: { application_name: "dmonitor" },
    }) as unknown as Sql;
  } catch (e) {
    throw new StoreError(`Cannot open ${describePg(s)}: ${(e as Error).message}`, { cause: e });
  }
}

/** The server's clock in epoch ms (leases are timed by it, so nodes' clocks need not agree). */
export const NOW_MS = "(extract(epoch from clock_timestamp()) * 1000)::bigint";
