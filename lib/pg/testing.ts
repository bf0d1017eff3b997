/**
 * Test support: a throw-away PostgreSQL cluster (Debian's `postgresql` binaries) made with
 * `initdb` in a temp dir, run as an unprivileged user (`postgres`, else `nobody`, when the tests are
 * root) on a given loopback address and a free port, with a password (SCRAM) so that clients go
 * through `password_file` as operators do. Never exported from mod.ts.
 *
 * ```ts
 * await using pg = await startPgCluster({ host: "127.0.140.2" });
 * const settings = pg.settings(); // StoreSettings for parsePgStore / openPg
 * await pg.restart();             // immediate stop (a crash) and start on the same port
 * ```
 * @module
 */
import { join } from "node:path";
import { openPg } from "./connect.ts";
import type { PgSettings } from "./settings.ts";

/** Where Debian keeps the server binaries (`/usr/lib/postgresql/<major>/bin`), or PATH's. */
export function pgBinDir(): string | null {
  try {
    const majors = [...Deno.readDirSync("/usr/lib/postgresql")].map((e) => e.name)
      .filter((n) => /^\d+$/.test(n)).sort((a, b) => Number(b) - Number(a));
    for (const m of majors) {
      const dir = `/usr/lib/postgresql/${m}/bin`;
      if (Deno.statSync(`${dir}/initdb`).isFile) return dir;
    }
  } catch { /* not installed there */ }
  for (const p of (Deno.env.get("PATH") ?? "").split(":")) {
    try {
      if (p && Deno.statSync(`${p}/initdb`).isFile) return p;
    } catch { /* next */ }
  }
  return null;
}

/** Why PostgreSQL tests cannot run here, or null when they can. */
export function pgMissing(): string | null {
  return pgBinDir() === null
    ? "PostgreSQL server binaries (initdb, pg_ctl) not found: install the Debian package postgresql (make test-deps)"
    : null;
}

function passwdUser(name: string): { uid: number; gid: number } | null {
  const line = Deno.readTextFileSync("/etc/passwd").split("\n").find((l) =>
    l.startsWith(`${name}:`)
  );
  if (!line) return null;
  const f = line.split(":");
  return { uid: Number(f[2]), gid: Number(f[3]) };
}

/** A free TCP port on `host`. */
function freePort(host: string): number {
  const l = Deno.listen({ hostname: host, port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

export interface PgCluster extends AsyncDisposable {
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly user: string;
  /** A file holding the password (0644 so a node that dropped root can read it). */
  readonly passwordFile: string;
  /** `postgres://user:password@host:port/database`. */
  readonly url: string;
  /** Settings for `openPg` (what a `store:` section with these values parses to). */
  settings(): PgSettings;
  /** `store:` lines for dmonitor.yaml (indented two spaces under `store:`). */
  yaml(): string;
  /** Stops with `-m immediate` (as a crash would) and starts again on the same port. */
  restart(): Promise<void>;
  stop(): Promise<void>;
  start(): Promise<void>;
}

/**
 * Starts a new cluster on `host` (a loopback IP literal). `fsync` off by default (the tests'
 * crashes are of processes, not of the machine); the benchmark turns it on.
 */
export async function startPgCluster(
  o: { host: string; port?: number; fsync?: boolean; database?: string },
): Promise<PgCluster> {
  const bin = pgBinDir();
  if (!bin) throw new Error(pgMissing()!);
  const root = Deno.uid() === 0;
  const runAs = root ? (passwdUser("postgres") ?? passwdUser("nobody")) : null;
  const dir = await Deno.makeTempDir({ prefix: "dmonitor-pg-" });
  await Deno.chmod(dir, 0o755);
  const data = join(dir, "data");
  const sock = join(dir, "sock");
  const password = crypto.randomUUID();
  const passwordFile = join(dir, "password");
  await Deno.writeTextFile(passwordFile, password + "\n");
  await Deno.chmod(passwordFile, 0o644);
  await Deno.mkdir(sock);
  if (runAs) await Deno.chown(dir, runAs.uid, runAs.gid);
  if (runAs) await Deno.chown(sock, runAs.uid, runAs.gid);
  const user = "dmonitor";
  const database = o.database ?? "dmonitor";
  const port = o.port ?? freePort(o.host);
  const log = join(dir, "server.log");

  const run = async (cmd: string, args: string[]) => {
    const full = runAs
      ? [
        "setpriv",
        `--reuid=${runAs.uid}`,
        `--regid=${runAs.gid}`,
        "--clear-groups",
        `${bin}/${cmd}`,
        ...args,
      ]
      : [`${bin}/${cmd}`, ...args];
    const out = await new Deno.Command(full[0]!, {
      args: full.slice(1),
      cwd: dir,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: { LC_ALL: "C", TZ: "UTC" },
    }).output();
    if (!out.success) {
      const logText = await Deno.readTextFile(log).catch(() => "");
      throw new Error(
        `${cmd} ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}` +
          `${new TextDecoder().decode(out.stdout)}\n${logText.split("\n").slice(-20).join("\n")}`,
      );
    }
  };
  await run("initdb", [
    "-D",
    data,
    "-U",
    user,
    `--pwfile=${passwordFile}`,
    "--auth=scram-sha-256",
    "-E",
    "UTF8",
    "--no-instructions",
  ]);
  const options = [
    `-c listen_addresses=${o.host}`,
    `-p ${port}`,
    `-c unix_socket_directories=${sock}`,
    `-c fsync=${o.fsync ? "on" : "off"}`,
    "-c max_connections=100",
  ].join(" ");
  let running = false;
  const start = async () => {
    await run("pg_ctl", ["-D", data, "-l", log, "-o", options, "-w", "-t", "60", "start"]);
    running = true;
  };
  const stop = async (mode = "fast") => {
    if (!running) return;
    running = false;
    await run("pg_ctl", ["-D", data, "-m", mode, "-w", "-t", "60", "stop"]);
  };
  await start();
  const settings = (db: string): PgSettings => ({
    host: o.host,
    port,
    database: db,
    user,
    password,
    path: null,
    tls: null,
    poolSize: 4,
    connectTimeoutMs: 5000,
    source: "test",
  });
  const admin = openPg({ settings: settings("postgres"), password }, { max: 1 });
  try {
    await admin.unsafe(`CREATE DATABASE "${database}"`);
  } finally {
    await admin.end();
  }
  const url = `postgres://${user}:${password}@${o.host}:${port}/${database}`;
  return {
    host: o.host,
    port,
    database,
    user,
    passwordFile,
    url,
    settings: () => settings(database),
    yaml: () =>
      [
        `  host: ${o.host}`,
        `  port: ${port}`,
        `  database: ${database}`,
        `  user: ${user}`,
        `  password_file: ${passwordFile}`,
      ].join("\n"),
    restart: async () => {
      await stop("immediate");
      await start();
    },
    stop: () => stop("fast"),
    start,
    async [Symbol.asyncDispose]() {
      await stop("immediate").catch(() => {});
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}
