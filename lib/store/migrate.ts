/**
 * Versioned schema migrations for SQLite, the same scheme as lib/pg/migrate.ts: each component
 * lists its migrations, the applied ones are recorded in `dmonitor_schema`, all of it in one
 * `BEGIN IMMEDIATE` transaction (SQLite's write lock: two processes opening one file at once apply
 * each migration once). A database newer than this program is refused.
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import { StoreError } from "../errors/mod.ts";
import { transaction } from "./state_store.ts";

export interface SqliteMigration {
  version: number;
  name: string;
  sql: string;
}

/** Applies the missing migrations of `component`; returns the versions applied by this call. */
export function migrateSqlite(
  db: DatabaseSync,
  component: string,
  migrations: readonly SqliteMigration[],
  now: number,
): number[] {
  const known = Math.max(0, ...migrations.map((m) => m.version));
  try {
    return transaction(db, () => {
      db.exec(`CREATE TABLE IF NOT EXISTS dmonitor_schema (
        component TEXT NOT NULL, version INTEGER NOT NULL, name TEXT NOT NULL,
        applied_at INTEGER NOT NULL, applied_by TEXT NOT NULL, PRIMARY KEY (component, version))`);
      const done = new Set(
        (db.prepare("SELECT version FROM dmonitor_schema WHERE component = ?").all(component) as {
          version: number;
        }[]).map((r) => r.version),
      );
      const newest = Math.max(0, ...done);
      if (newest > known) {
        throw new StoreError(
          `The ${component} schema in the database is version ${newest}, this dmonitor knows up to ${known}: upgrade dmonitor on this node`,
        );
      }
      const applied: number[] = [];
      for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
        if (done.has(m.version)) continue;
        db.exec(m.sql);
        db.prepare(
          "INSERT INTO dmonitor_schema (component, version, name, applied_at, applied_by) VALUES (?, ?, ?, ?, ?)",
        ).run(component, m.version, m.name, now, "sqlite");
        applied.push(m.version);
      }
      return applied;
    });
  } catch (e) {
    if (e instanceof StoreError) throw e;
    throw new StoreError(`Cannot migrate the ${component} schema: ${(e as Error).message}`, {
      cause: e,
    });
  }
}
