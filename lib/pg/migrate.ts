/**
 * Versioned schema migrations for PostgreSQL, run at start: each component (`sync`, ...) lists its
 * migrations in order; the applied ones are recorded in `dmonitor_schema`. All of it runs in one
 * transaction under a transaction-scoped advisory lock, so nodes starting at once apply each
 * migration exactly once (the others wait, then find nothing left to do); a failed migration
 * rolls back whole. A database newer than this program is refused rather than written to.
 * @module
 */
import { StoreError } from "../errors/mod.ts";
import type { Sql } from "./connect.ts";

export interface Migration {
  version: number;
  /** What it does, recorded with it. */
  name: string;
  /** Statements, separated by `;` (run as one simple query). */
  sql: string;
}

/** The advisory lock key of migrations ("dmon" "migr" as two int4s). */
export const MIGRATION_LOCK: [number, number] = [0x646d6f6e, 0x6d696772];

/** Applies the missing migrations of `component`; returns the versions applied by this call. */
export async function migrate(
  sql: Sql,
  component: string,
  migrations: readonly Migration[],
  by: string,
): Promise<number[]> {
  const known = Math.max(0, ...migrations.map((m) => m.version));
  try {
    return await sql.begin(async (tx) => {
      await tx.unsafe("SELECT pg_advisory_xact_lock($1, $2)", MIGRATION_LOCK);
      await tx.unsafe(`CREATE TABLE IF NOT EXISTS dmonitor_schema (
        component TEXT NOT NULL, version INTEGER NOT NULL, name TEXT NOT NULL,
        applied_at BIGINT NOT NULL, applied_by TEXT NOT NULL, PRIMARY KEY (component, version))`);
      const rows = await tx.unsafe(
        "SELECT version FROM dmonitor_schema WHERE component = $1",
        [component],
      );
      const done = new Set(rows.map((r) => Number(r.version)));
      const newest = Math.max(0, ...done);
      if (newest > known) {
        throw new StoreError(
          `The ${component} schema in the database is version ${newest}, this dmonitor knows up to ${known}: upgrade dmonitor on this node`,
        );
      }
      const applied: number[] = [];
      for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
        if (done.has(m.version)) continue;
        await tx.unsafe(m.sql);
        await tx.unsafe(
          `INSERT INTO dmonitor_schema (component, version, name, applied_at, applied_by)
          VALUES ($1, $2, $3, (extract(epoch from clock_timestamp()) * 1000)::bigint, $4)`,
          [component, m.version, m.name, by],
        );
        applied.push(m.version);
      }
      return applied;
    });
  } catch (e) {
    if (e instanceof StoreError) throw e;
    throw new StoreError(
      `Cannot migrate the ${component} schema: ${(e as Error).message}`,
      { cause: e },
    );
  }
}
