/**
 * The last push per heartbeat test, in the node's SQLite database, so a restart keeps it.
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import type { Push } from "./judge.ts";

const SCHEMA = `CREATE TABLE IF NOT EXISTS heartbeat_push (
  host TEXT NOT NULL, test TEXT NOT NULL, at INTEGER NOT NULL, via TEXT NOT NULL,
  message TEXT NOT NULL, PRIMARY KEY (host, test)
) WITHOUT ROWID`;

export class PushStore {
  readonly #get;
  readonly #put;
  constructor(db: DatabaseSync) {
    db.exec(SCHEMA);
    this.#get = db.prepare(
      "SELECT host, test, at, via, message FROM heartbeat_push " +
        "WHERE host = ? AND test = ?",
    );
    // Only ever forward: a push older than the one held changes nothing.
    this.#put = db.prepare(
      "INSERT INTO heartbeat_push (host, test, at, via, message) VALUES (?, ?, ?, ?, ?) " +
        "ON CONFLICT (host, test) DO UPDATE SET at = excluded.at, via = excluded.via, " +
        "message = excluded.message WHERE excluded.at > heartbeat_push.at",
    );
  }

  get(host: string, test: string): Push | null {
    const r = this.#get.get(host, test) as Push | undefined;
    return r ? { host: r.host, test: r.test, at: r.at, via: r.via, message: r.message } : null;
  }

  /** Keeps `p` when it is newer than the push held; true when it was. */
  put(p: Push): boolean {
    return Number(this.#put.run(p.host, p.test, p.at, p.via, p.message).changes) > 0;
  }
}
