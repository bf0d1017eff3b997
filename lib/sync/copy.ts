/**
 * Moving a central store between back ends: every sync table copied from SQLite to PostgreSQL or
 * back, row by row in batches, in one transaction on the target, existing rows kept (`ON CONFLICT
 * DO NOTHING` / `INSERT OR IGNORE`), so a copy that was interrupted can simply be run again.
 * Module history has no key of its own: a history row is copied only with its file, when that
 * file's ledger row was added by this copy (the ledger comes first), so nothing doubles on a
 * second run. Leases are not copied (they belong to running nodes). Run with the central nodes
 * stopped.
 * @module
 */
import type { DatabaseSync, SQLInputValue } from "node:sqlite";
import type { Sql } from "../pg/mod.ts";

/** The tables in copy order, their columns (without surrogate ids), and their arrival order. */
export const COPY_TABLES: readonly { table: string; cols: readonly string[]; order: string }[] = [
  {
    table: "sync_sites",
    cols: [
      "site",
      "address",
      "first_seen",
      "last_attempt",
      "last_success",
      "last_error",
      "last_error_at",
      "errors",
      "files",
      "duplicates",
      "rejected",
      "newest_data_at",
      "unreachable_id",
      "unreachable_since",
    ],
    order: "site",
  },
  {
    table: "sync_agents",
    cols: ["site", "agent", "attrs", "last_file", "written_at", "seen_at"],
    order: "site, agent",
  },
  {
    table: "sync_module_last",
    cols: ["site", "agent", "module", "type", "data", "description", "at"],
    order: "site, agent, module",
  },
  {
    table: "sync_files",
    cols: [
      "site",
      "name",
      "sha256",
      "size",
      "agent",
      "status",
      "error",
      "written_at",
      "ingested_at",
    ],
    order: "site, name, sha256",
  },
  {
    table: "sync_module_history",
    cols: ["site", "agent", "module", "type", "data", "at", "file"],
    order: "id",
  },
  {
    table: "sync_incidents",
    cols: [
      "site",
      "incident_id",
      "kind",
      "seq",
      "payload",
      "received_at",
      "notified_at",
      "claimed_by",
    ],
    order: "@arrival",
  },
];

type Rows = Record<string, unknown>[];

/** One end of a copy. */
export interface CopySide {
  read(
    table: string,
    cols: readonly string[],
    order: string,
    offset: number,
    limit: number,
  ): Promise<Rows>;
  /**
   * Runs `fn` in one transaction; `insert` adds rows, keeping existing ones; returns the rows it
   * added.
   */
  write(
    fn: (
      insert: (table: string, cols: readonly string[], rows: Rows) => Promise<Rows>,
    ) => Promise<void>,
  ): Promise<void>;
}

export function sqliteSide(db: DatabaseSync): CopySide {
  return {
    read: (table, cols, order, offset, limit) =>
      Promise.resolve(
        db.prepare(
          `SELECT ${cols.join(", ")} FROM ${table} ORDER BY ${
            order === "@arrival" ? "rowid" : order
          } LIMIT ? OFFSET ?`,
        ).all(limit, offset) as Rows,
      ),
    write: async (fn) => {
      db.exec("BEGIN IMMEDIATE");
      try {
        await fn((table, cols, rows) => {
          const st = db.prepare(
            `INSERT OR IGNORE INTO ${table} (${cols.join(", ")}) VALUES (${
              cols.map(() => "?").join(", ")
            })`,
          );
          const added: Rows = [];
          for (const r of rows) {
            const ch = st.run(...cols.map((c) => (r[c] ?? null) as SQLInputValue)).changes;
            if (Number(ch) > 0) added.push(r);
          }
          return Promise.resolve(added);
        });
        db.exec("COMMIT");
      } catch (e) {
        db.exec("ROLLBACK");
        throw e;
      }
    },
  };
}

export function pgSide(sql: Sql): CopySide {
  return {
    read: async (table, cols, order, offset, limit) =>
      await sql.unsafe(
        `SELECT ${cols.join(", ")} FROM ${table} ORDER BY ${
          order === "@arrival" ? "id" : order
        } LIMIT $1 OFFSET $2`,
        [limit, offset],
      ) as unknown as Rows,
    write: async (fn) => {
      await sql.begin(async (tx) => {
        await fn(async (table, cols, rows) => {
          if (rows.length === 0) return [];
          const params: unknown[] = [];
          const values = rows.map((r) =>
            `(${cols.map((c) => (params.push(r[c] ?? null), `$${params.length}`)).join(", ")})`
          );
          const out = await tx.unsafe(
            `INSERT INTO ${table} (${cols.join(", ")}) VALUES ${values.join(", ")}
            ON CONFLICT DO NOTHING RETURNING ${cols.join(", ")}`,
            params as never[],
          );
          return out as unknown as Rows;
        });
      });
    },
  };
}

/** Copies every sync table from `from` to `to`; returns rows read and added per table. */
export async function copyStore(
  from: CopySide,
  to: CopySide,
  o: { batch?: number; progress?: (table: string, read: number) => void } = {},
): Promise<Record<string, { read: number; added: number }>> {
  const batch = o.batch ?? 500;
  const out: Record<string, { read: number; added: number }> = {};
  const newFiles = new Set<string>();
  const fileKey = (site: unknown, name: unknown) => `${site}\0${name}`;
  await to.write(async (insert) => {
    for (const t of COPY_TABLES) {
      const c = out[t.table] = { read: 0, added: 0 };
      for (let offset = 0;; offset += batch) {
        let rows = await from.read(t.table, t.cols, t.order, offset, batch);
        if (rows.length === 0) break;
        c.read += rows.length;
        if (t.table === "sync_module_history") {
          rows = rows.filter((r) => newFiles.has(fileKey(r.site, r.file)));
        }
        const added = await insert(t.table, t.cols, rows);
        if (t.table === "sync_files") {
          for (const r of added) newFiles.add(fileKey(r.site, r.name));
        }
        c.added += added.length;
        o.progress?.(t.table, c.read);
      }
    }
  });
  return out;
}
