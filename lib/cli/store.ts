/**
 * `dmonitor store copy --to postgresql|sqlite`: moves a central node's store between the two
 * deployments. The SQLite side is the node's own (`sync.database`, else `<state_dir>/state.db`),
 * the PostgreSQL side the `store:` section; both are migrated first. Run with the central nodes
 * stopped; running it again adds only what is missing.
 * @module
 */
import { resolve } from "node:path";
import { DEFAULT_CONFIG_DIR } from "../config/mod.ts";
import { ConfigError, formatProblemIn, UsageError } from "../errors/mod.ts";
import { describePg, loadPgFiles, openPg } from "../pg/mod.ts";
import { DB_FILE, openDatabase } from "../store/mod.ts";
import { copyStore, pgSide, sqliteSide } from "../sync/copy.ts";
import { PgSyncStore } from "../sync/store_pg.ts";
import { SqliteSyncStore } from "../sync/store_sqlite.ts";
import { loadNodeConfig, type NodeConfig } from "../node/load.ts";
import { type Io, parseFlags } from "./args.ts";

export const STORE_USAGE = `Usage: dmonitor store copy --to postgresql|sqlite [--config DIR]

Copies the central store (sites, agents, module values and history, the ledger of ingested files,
site incidents and whether they were notified) from this node's SQLite database to the PostgreSQL
database of the 'store:' section (--to postgresql), or back (--to sqlite). The SQLite database is
'sync.database', else DIR's state_dir/state.db. Rows already in the target are kept, so an
interrupted copy can be run again. Stop the central nodes first. Exit status: 0 copied, 1 on a
configuration or database problem, 64 on a usage error.`;

export async function storeCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseFlags("store", args, {
    config: { type: "string", short: "c" },
    to: { type: "string" },
  });
  if (values.help) {
    io.out(STORE_USAGE);
    return 0;
  }
  if (positionals[0] !== "copy" || positionals.length > 1) {
    throw new UsageError(`dmonitor store: expected 'copy' (see 'dmonitor store --help')`);
  }
  if (values.to !== "postgresql" && values.to !== "sqlite") {
    throw new UsageError(
      `dmonitor store copy: --to must be postgresql or sqlite, got ${
        JSON.stringify(values.to ?? "")
      }`,
    );
  }
  const dir = values.config ?? DEFAULT_CONFIG_DIR;
  let config: NodeConfig;
  try {
    config = await loadNodeConfig(dir);
    if (!config.sections.store) {
      throw new ConfigError([{
        file: "dmonitor.yaml",
        key: "store",
        message: "is missing: it names the PostgreSQL database to copy to or from",
      }]);
    }
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    for (const p of e.problems) io.err(formatProblemIn(dir, p));
    return 1;
  }
  const pgConn = await loadPgFiles(config.sections.store!).catch((e) => e as Error);
  if (pgConn instanceof ConfigError) {
    for (const p of pgConn.problems) io.err(formatProblemIn(dir, p));
    return 1;
  }
  if (pgConn instanceof Error) throw pgConn;
  const file = config.sections.sync?.database ??
    resolve(config.root, config.settings.state_dir, DB_FILE);
  const db = openDatabase(file);
  const sql = openPg(pgConn, { max: 2 });
  try {
    new SqliteSyncStore(db);
    await PgSyncStore.open(sql, { node: config.settings.node });
    const [from, to] = values.to === "postgresql"
      ? [sqliteSide(db), pgSide(sql)]
      : [pgSide(sql), sqliteSide(db)];
    const counts = await copyStore(from, to);
    const where = describePg(pgConn.settings);
    io.out(
      values.to === "postgresql"
        ? `copied sqlite ${file} to ${where}:`
        : `copied ${where} to sqlite ${file}:`,
    );
    for (const [table, c] of Object.entries(counts)) {
      io.out(`  ${table}: ${c.read} rows read, ${c.added} added`);
    }
    return 0;
  } catch (e) {
    io.err(`dmonitor store copy: ${(e as Error).message}`);
    return 1;
  } finally {
    db.close();
    await sql.end({ timeout: 2 });
  }
}
