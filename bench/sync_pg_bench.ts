/**
 * Ingest rate of the central store, PostgreSQL against SQLite: the same agent data files (each
 * with `--modules` results and a site incident every 50th), ingested one transaction per file as
 * the puller does, into the embedded SQLite store (a file in WAL mode, as `dmonitor run` opens
 * it) and into a throw-away PostgreSQL cluster on loopback (127.0.143.2, fsync on, over TCP), in
 * the same run. Also PostgreSQL with three "nodes" (pools) ingesting three sites at once, the
 * shared deployment. Prints files/s and the ratios against SQLite. (SQLite runs with
 * `synchronous = NORMAL` as the node opens it: a commit in WAL mode is not fsynced; PostgreSQL
 * fsyncs its WAL at every commit. That, and a round trip per statement, is most of the gap.)
 *
 *   deno run -A bench/sync_pg_bench.ts [--files 1000] [--modules 10] [--fsync on|off] [--json]
 * @module
 */
import { createHash } from "node:crypto";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { openPg } from "../lib/pg/connect.ts";
import { pgMissing, startPgCluster } from "../lib/pg/testing.ts";
import { openDatabase } from "../lib/store/mod.ts";
import type { SyncStore } from "../lib/sync/store.ts";
import { SqliteSyncStore } from "../lib/sync/store_sqlite.ts";
import { PgSyncStore } from "../lib/sync/store_pg.ts";
import { dataFile, notification, result } from "../lib/sync/testing.ts";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    files: { type: "string", default: "1000" },
    modules: { type: "string", default: "10" },
    json: { type: "boolean", default: false },
    // off: PostgreSQL without fsync, to see what the WAL flush at every commit costs.
    fsync: { type: "string", default: "on" },
  },
});
const FILES = Number(flags.files);
const MODULES = Number(flags.modules);

const missing = pgMissing();
if (missing) {
  console.error(`sync-pg bench: ${missing}`);
  Deno.exit(1);
}

const t0 = Date.now() - 3_600_000;
const enc = new TextEncoder();
const files = Array.from({ length: FILES }, (_, i) => {
  const results = Array.from(
    { length: MODULES },
    (_, m) =>
      result({ host: `h${m}`, test: "tcp", output: `seq ${i}`, startedAt: t0 + i * 1000 + m }),
  );
  const notes = i % 50 === 0 ? [notification({ id: `inc-${i}/down`, incidentId: `inc-${i}` })] : [];
  const bytes = enc.encode(dataFile(`n${i % 3}`, t0 + i * 1000, results, notes));
  return {
    name: `n${i % 3}.${1_800_000_000 + i}.data`,
    bytes,
    sha: createHash("sha256").update(bytes).digest("hex"),
  };
});

async function rate(stores: SyncStore[]): Promise<number> {
  for (const [k, s] of stores.entries()) await s.ensureSite(`site-${k}`, "127.0.143.9:41121", t0);
  const started = performance.now();
  await Promise.all(stores.map(async (s, k) => {
    for (const f of files) {
      const out = await s.ingest(`site-${k}`, f.name, f.bytes, f.sha, Date.now());
      if (out.status !== "ingested") throw new Error(`${f.name}: ${out.status}`);
    }
  }));
  return (FILES * stores.length) / ((performance.now() - started) / 1000);
}

const work = await Deno.makeTempDir({ prefix: "dmonitor-sync-pg-bench-" });
try {
  const db = openDatabase(join(work, "central.db"));
  const sqlite = await rate([new SqliteSyncStore(db)]);
  db.close();

  await using pg = await startPgCluster({ host: "127.0.143.2", fsync: flags.fsync !== "off" });
  const conn = { settings: pg.settings(), password: pg.settings().password };
  const pools = [openPg(conn), openPg(conn), openPg(conn)];
  const one = await rate([await PgSyncStore.open(pools[0]!, { node: "bench" })]);
  await pools[0]!.unsafe(
    "TRUNCATE sync_files, sync_module_history, sync_module_last, sync_incidents",
  );
  const three = await rate(
    await Promise.all(pools.map((p, i) => PgSyncStore.open(p, { node: `bench-${i}` }))),
  );
  for (const p of pools) await p.end({ timeout: 1 });

  const out = {
    files: FILES,
    modules_per_file: MODULES,
    sqlite_files_per_s: Math.round(sqlite),
    postgresql_files_per_s: Math.round(one),
    postgresql_3_nodes_files_per_s: Math.round(three),
    ratio_postgresql_to_sqlite: Number((one / sqlite).toFixed(2)),
    ratio_postgresql_3_nodes_to_sqlite: Number((three / sqlite).toFixed(2)),
  };
  if (flags.json) console.log(JSON.stringify(out));
  else {
    console.log(`ingest, ${FILES} files of ${MODULES} modules, one transaction per file:`);
    console.log(`  SQLite (WAL, file)            ${out.sqlite_files_per_s} files/s`);
    console.log(
      `  PostgreSQL (TCP, fsync ${
        flags.fsync === "off" ? "off" : "on"
      })    ${out.postgresql_files_per_s} files/s  = ${out.ratio_postgresql_to_sqlite} x SQLite`,
    );
    console.log(
      `  PostgreSQL, 3 nodes at once   ${out.postgresql_3_nodes_files_per_s} files/s  = ${out.ratio_postgresql_3_nodes_to_sqlite} x SQLite`,
    );
  }
} finally {
  await Deno.remove(work, { recursive: true }).catch(() => {});
}
