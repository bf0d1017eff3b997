/**
 * Test support: the same store tests against both back ends. `withBackends` registers one
 * Deno.test per back end (SQLite in memory; PostgreSQL in a throw-away cluster on `pgHost`, a
 * fresh database per case), each case a step, so a failure names the back end and the case.
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import { openPg, type Sql } from "../pg/connect.ts";
import { pgMissing, startPgCluster } from "../pg/testing.ts";
import type { SyncStore } from "./store.ts";
import { SqliteSyncStore } from "./store_sqlite.ts";
import { PgSyncStore } from "./store_pg.ts";
import { T0 } from "./testing.ts";

/** Opens another handle on the same store (a second central node). */
export type OpenAnother = () => Promise<SyncStore>;

export type StoreCase = (s: SyncStore, another: OpenAnother) => Promise<void>;

export function withBackends(
  title: string,
  cases: Record<string, StoreCase>,
  o: { pgHost: string },
): void {
  Deno.test(`${title} (sqlite)`, async (t) => {
    for (const [name, fn] of Object.entries(cases)) {
      await t.step(name, async () => {
        const db = new DatabaseSync(":memory:");
        const s = new SqliteSyncStore(db, T0);
        try {
          await fn(s, () => Promise.resolve(new SqliteSyncStore(db, T0)));
        } finally {
          db.close();
        }
      });
    }
  });
  const missing = pgMissing();
  Deno.test({
    name: `${title} (postgresql)`,
    // A missing server is a failure, not a skip: `make test-deps` installs it.
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async (t) => {
      if (missing) throw new Error(missing);
      await using pg = await startPgCluster({ host: o.pgHost });
      const admin = openPg({ settings: pg.settings(), password: pg.settings().password }, {
        max: 1,
      });
      let n = 0;
      try {
        for (const [name, fn] of Object.entries(cases)) {
          await t.step(name, async () => {
            const database = `case_${++n}`;
            await admin.unsafe(`CREATE DATABASE ${database}`);
            const pools: Sql[] = [];
            const open = async () => {
              const sql = openPg({
                settings: { ...pg.settings(), database },
                password: pg.settings().password,
              });
              pools.push(sql);
              return await PgSyncStore.open(sql, { node: `test-${pools.length}` });
            };
            try {
              await fn(await open(), open);
            } finally {
              for (const p of pools) await p.end({ timeout: 1 });
            }
          });
        }
      } finally {
        await admin.end();
      }
    },
  });
}
