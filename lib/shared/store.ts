/**
 * Shared records in the node's state database (one table, one JSON row per key), with an
 * in-memory copy the notifier and the views read without touching SQLite. Every merge is one
 * committed transaction, so what a node acknowledged to a peer survives `kill -9`.
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import { transaction } from "../store/mod.ts";
import { digest, mergeRecords, obsolete } from "./merge.ts";
import { recordKey, type SharedRecord } from "./types.ts";

const SCHEMA = `CREATE TABLE IF NOT EXISTS shared_record (
  key TEXT PRIMARY KEY, record TEXT NOT NULL
) WITHOUT ROWID`;

export class SharedStore {
  readonly #db: DatabaseSync;
  readonly #held = new Map<string, SharedRecord>();
  #digest: string | null = null;

  constructor(db: DatabaseSync) {
    this.#db = db;
    db.exec(SCHEMA);
    for (const r of db.prepare("SELECT record FROM shared_record").all() as { record: string }[]) {
      const rec = JSON.parse(r.record) as SharedRecord;
      this.#held.set(recordKey(rec), rec);
    }
  }

  /** Every record held (live, removed and acknowledgements). */
  all(): SharedRecord[] {
    return [...this.#held.values()];
  }

  get(key: string): SharedRecord | undefined {
    return this.#held.get(key);
  }

  /** Merges records (from a peer or this node's CLI); returns those that changed here. */
  merge(
    incoming: readonly SharedRecord[],
    now: number,
  ): { changed: SharedRecord[]; refused: number } {
    const out = mergeRecords(this.#held, incoming, now);
    if (out.changed.length === 0) return out;
    const put = this.#db.prepare(
      "INSERT OR REPLACE INTO shared_record (key, record) VALUES (?, ?)",
    );
    transaction(this.#db, () => {
      for (const r of out.changed) put.run(recordKey(r), JSON.stringify(r));
    });
    for (const r of out.changed) this.#held.set(recordKey(r), r);
    this.#digest = null;
    return out;
  }

  /** Drops records that no longer matter (see merge.ts); returns how many. */
  prune(now: number): number {
    const gone = [...this.#held].filter(([, r]) => obsolete(r, now)).map(([k]) => k);
    if (gone.length === 0) return 0;
    const del = this.#db.prepare("DELETE FROM shared_record WHERE key = ?");
    transaction(this.#db, () => {
      for (const k of gone) del.run(k);
    });
    for (const k of gone) this.#held.delete(k);
    this.#digest = null;
    return gone.length;
  }

  /** The digest peers compare (cached until the next change). */
  digest(): string {
    return this.#digest ??= digest(this.#held.values());
  }
}
