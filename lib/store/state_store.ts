/**
 * Persistent node state in SQLite (`node:sqlite`, WAL): the last result of every check and a
 * bounded history. Other parts (incidents, outbox) keep their own tables in the same database
 * through {@link StateStore.db}. Survives `kill -9`: every write is its own committed transaction.
 * @module
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { join } from "node:path";
import { fsReason, StoreError } from "../errors/mod.ts";
import type { CheckResult, RawState, Status } from "../runner/result.ts";
import {
  type Bucket,
  CheckHistoryTables,
  type CheckSummary,
  RECENT_RUNS,
  type StateChange,
} from "./history.ts";

export const DB_FILE = "state.db";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS check_last (
  host TEXT NOT NULL, test TEXT NOT NULL, status TEXT NOT NULL, state TEXT NOT NULL,
  output TEXT NOT NULL, perfdata TEXT NOT NULL, exit_code INTEGER, started_at INTEGER NOT NULL,
  duration_ms INTEGER NOT NULL, since INTEGER NOT NULL,
  PRIMARY KEY (host, test)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS check_history (
  id INTEGER PRIMARY KEY, host TEXT NOT NULL, test TEXT NOT NULL, status TEXT NOT NULL,
  state TEXT NOT NULL, output TEXT NOT NULL, started_at INTEGER NOT NULL, duration_ms INTEGER NOT NULL,
  perfdata TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS check_history_key ON check_history (host, test, started_at);
CREATE INDEX IF NOT EXISTS check_history_time ON check_history (started_at);
`;

/** A stored last result, with `since`: when the check entered its current status. */
export interface LastResult extends CheckResult {
  since: number;
}

export interface HistoryEntry {
  host: string;
  test: string;
  status: Status;
  state: RawState;
  output: string;
  /** Raw perfdata text of that run ("" when none, or recorded before history kept it). */
  perfdata: string;
  startedAt: number;
  durationMs: number;
}

type Row = Record<string, string | number | null>;

function toEntry(r: Row): HistoryEntry {
  return {
    host: r.host as string,
    test: r.test as string,
    status: r.status as Status,
    state: r.state as RawState,
    output: r.output as string,
    perfdata: (r.perfdata as string | null) ?? "",
    startedAt: r.started_at as number,
    durationMs: r.duration_ms as number,
  };
}

function toLast(r: Row): LastResult {
  return {
    ...toEntry(r),
    perfdata: r.perfdata as string,
    exitCode: r.exit_code as number | null,
    since: r.since as number,
  };
}

/**
 * Runs `fn` in one write transaction (BEGIN IMMEDIATE: the write lock is taken up front, so two
 * processes sharing the file wait on busy_timeout instead of failing mid-way); rolls back on error.
 */
export function transaction<T>(db: DatabaseSync, fn: () => T): T {
  // Inside a transaction already (a caller composing several writes): its commit covers this.
  if (db.isTransaction) return fn();
  db.exec("BEGIN IMMEDIATE");
  try {
    const out = fn();
    db.exec("COMMIT");
    return out;
  } catch (e) {
    db.exec("ROLLBACK");
    throw e;
  }
}

/**
 * Opens a SQLite database with the settings every dmonitor database uses. The page cache is capped
 * at 512 KiB (SQLite's default is 2 MiB, which a node's history fills within hours whatever the
 * number of checks): a page it lacks comes from the kernel's page cache, and each result touches a
 * few pages of its own check only.
 */
export function openDatabase(path: string): DatabaseSync {
  const db = new DatabaseSync(path);
  db.exec(
    "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000; " +
      "PRAGMA cache_size = -512;",
  );
  return db;
}

export class StateStore {
  readonly #upsert: StatementSync;
  readonly #insertHistory: StatementSync;
  readonly #getLast: StatementSync;
  readonly #history: CheckHistoryTables;

  private constructor(readonly db: DatabaseSync, readonly path: string) {
    db.exec(SCHEMA);
    this.#history = new CheckHistoryTables(db);
    // Databases from before history kept perfdata get the column (old rows read as "").
    const cols = db.prepare("PRAGMA table_info(check_history)").all() as { name: string }[];
    if (!cols.some((c) => c.name === "perfdata")) {
      db.exec("ALTER TABLE check_history ADD COLUMN perfdata TEXT NOT NULL DEFAULT ''");
    }
    this.#upsert = db.prepare(`
      INSERT INTO check_last (host, test, status, state, output, perfdata, exit_code, started_at, duration_ms, since)
      VALUES (:host, :test, :status, :state, :output, :perfdata, :exit_code, :started_at, :duration_ms, :started_at)
      ON CONFLICT (host, test) DO UPDATE SET
        since = CASE WHEN check_last.status = excluded.status THEN check_last.since ELSE excluded.started_at END,
        status = excluded.status, state = excluded.state, output = excluded.output,
        perfdata = excluded.perfdata, exit_code = excluded.exit_code,
        started_at = excluded.started_at, duration_ms = excluded.duration_ms`);
    this.#insertHistory = db.prepare(`
      INSERT INTO check_history (host, test, status, state, output, started_at, duration_ms, perfdata)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?)`);
    this.#getLast = db.prepare("SELECT * FROM check_last WHERE host = ? AND test = ?");
  }

  /** Opens (creating) `<dir>/state.db`. Throws StoreError naming the path on failure. */
  static open(dir: string): StateStore {
    const path = dir === ":memory:" ? dir : join(dir, DB_FILE);
    try {
      if (dir !== ":memory:") Deno.mkdirSync(dir, { recursive: true, mode: 0o750 });
      return new StateStore(openDatabase(path), path);
    } catch (e) {
      throw new StoreError(`Cannot open the state database ${path}: ${fsReason(e)}`, {
        cause: e,
      });
    }
  }

  /** Records one result: the last-result row and a history row, in one transaction. */
  record(r: CheckResult): void {
    try {
      transaction(this.db, () => {
        const previous = this.#getLast.get(r.host, r.test) as Row | undefined;
        this.#history.add(
          r,
          previous ? { status: previous.status as string, state: previous.state as string } : null,
        );
        this.#upsert.run({
          host: r.host,
          test: r.test,
          status: r.status,
          state: r.state,
          output: r.output,
          perfdata: r.perfdata,
          exit_code: r.exitCode,
          started_at: r.startedAt,
          duration_ms: r.durationMs,
        });
        this.#insertHistory.run(
          r.host,
          r.test,
          r.status,
          r.state,
          r.output,
          r.startedAt,
          r.durationMs,
          r.perfdata,
        );
      });
    } catch (e) {
      throw new StoreError(
        `Cannot record ${r.host} ${r.test} in ${this.path}: ${(e as Error).message}`,
        {
          cause: e,
        },
      );
    }
  }

  last(host: string, test: string): LastResult | null {
    const row = this.#getLast.get(host, test) as Row | undefined;
    return row ? toLast(row) : null;
  }

  lastAll(): LastResult[] {
    return (this.db.prepare("SELECT * FROM check_last ORDER BY host, test").all() as Row[]).map(
      toLast,
    );
  }

  /** How many checks' last result is a failure (FAIL or TIMEOUT). */
  failingCount(): number {
    const r = this.db.prepare("SELECT COUNT(*) AS n FROM check_last WHERE status != 'OK'")
      .get() as {
        n: number;
      };
    return r.n;
  }

  history(host: string, test: string, limit = 100): HistoryEntry[] {
    const rows = this.db.prepare(
      "SELECT * FROM check_history WHERE host = ? AND test = ? ORDER BY started_at DESC, id DESC LIMIT ?",
    ).all(host, test, limit) as Row[];
    return rows.map(toEntry);
  }

  /**
   * Deletes history older than `now - retentionMs`, raw runs beyond the last {@link RECENT_RUNS}
   * of each check, and buckets past their keep times (lib/store/history.ts); returns how many
   * rows went.
   */
  prune(now: number, retentionMs: number): number {
    return transaction(this.db, () => {
      let n = Number(
        this.db.prepare("DELETE FROM check_history WHERE started_at < ?").run(now - retentionMs)
          .changes,
      );
      n += Number(
        this.db.prepare(`DELETE FROM check_history WHERE id IN (
          SELECT id FROM (SELECT id, row_number() OVER (
            PARTITION BY host, test ORDER BY started_at DESC, id DESC) AS rn FROM check_history)
          WHERE rn > ?)`).run(RECENT_RUNS).changes,
      );
      return n + this.#history.prune(now, retentionMs);
    });
  }

  /** Every check's last 24 h and 30 days (buckets and state changes), keyed `host\ttest`. */
  summaries(now: number): Map<string, CheckSummary> {
    return this.#history.summaries(now);
  }

  /** One check's last 24 h and 30 days. */
  summary(host: string, test: string, now: number): CheckSummary {
    return this.#history.summary(host, test, now);
  }

  /** One check's day buckets of the last 30 UTC days, oldest first. */
  days(host: string, test: string, now: number): Bucket[] {
    return this.#history.days(host, test, now);
  }

  /** One check's state changes since `from`, newest first. */
  changes(host: string, test: string, from: number, limit = 100): StateChange[] {
    return this.#history.changes(host, test, from, limit);
  }

  /** Drops last results of checks no longer configured (after a reload). */
  forgetExcept(keys: Set<string>): number {
    let n = 0;
    for (const r of this.lastAll()) {
      if (!keys.has(`${r.host}\t${r.test}`)) {
        this.db.prepare("DELETE FROM check_last WHERE host = ? AND test = ?").run(r.host, r.test);
        n++;
      }
    }
    return n;
  }

  close(): void {
    if (this.db.isOpen) this.db.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
