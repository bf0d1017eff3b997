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

/** Most results written in one transaction of {@link StateStore.recordSoon}: each write is a
 * bounded piece of synchronous work, so the event loop gets a turn between them. */
export const WRITE_CHUNK = 100;
/** How long a result of {@link StateStore.recordSoon} waits for others to share its commit. */
export const WRITE_DELAY_MS = 50;

export class StateStore {
  readonly #upsert: StatementSync;
  readonly #insertHistory: StatementSync;
  readonly #history: CheckHistoryTables;
  /** Every check's last result (`host\ttest`), loaded on first use: reads never hit SQLite. */
  #lastCache: Map<string, LastResult> | null = null;
  /** Results of `recordSoon` not committed yet, oldest first, each with the last result it
   * replaces (what the history compares it with). */
  #pending: { r: CheckResult; previous: LastResult | undefined }[] = [];
  #flushTimer: ReturnType<typeof setTimeout> | undefined;
  /** Told when a deferred write (`recordSoon`) failed; the owner logs it (default: stderr). */
  onWriteError: (e: StoreError) => void = (e) => console.error(e.message);

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

  /** Records one result: the last-result row and a history row, committed before it returns. */
  record(r: CheckResult): void {
    this.flush();
    const previous = this.#remember(r);
    try {
      transaction(this.db, () => this.#write(r, previous));
    } catch (e) {
      throw new StoreError(
        `Cannot record ${r.host} ${r.test} in ${this.path}: ${(e as Error).message}`,
        { cause: e },
      );
    }
  }

  /**
   * Records one result like {@link record}, but commits it with the others of the next
   * {@link WRITE_DELAY_MS} (at most {@link WRITE_CHUNK} per transaction): a mass failure's
   * thousands of results cost a few commits instead of one each, and no single write holds the
   * event loop for long. Every read of this store sees it at once; a `kill -9` within that delay
   * loses it (an incident's state, which a notice depends on, is never written this way).
   * Returns the result it replaces as the check's last.
   */
  recordSoon(r: CheckResult): LastResult | null {
    const previous = this.#remember(r);
    this.#pending.push({ r, previous });
    if (this.#flushTimer === undefined) {
      this.#flushTimer = setTimeout(
        () => this.#flushChunk(),
        this.#pending.length >= WRITE_CHUNK ? 0 : WRITE_DELAY_MS,
      );
    }
    return previous ?? null;
  }

  /** Commits every result `recordSoon` holds (reads other than `last` do this first). */
  flush(): void {
    while (this.#pending.length > 0) this.#flushChunk();
  }

  #flushChunk(): void {
    clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
    if (!this.db.isOpen) return;
    const chunk = this.#pending.splice(0, WRITE_CHUNK);
    if (chunk.length === 0) return;
    try {
      transaction(this.db, () => {
        for (const { r, previous } of chunk) this.#write(r, previous);
      });
    } catch (e) {
      // Results are recorded again every interval; a lost batch is a gap in the history.
      this.onWriteError(
        new StoreError(
          `Cannot record ${chunk.length} results in ${this.path}: ${(e as Error).message}`,
          { cause: e },
        ),
      );
    }
    if (this.#pending.length > 0) this.#flushTimer = setTimeout(() => this.#flushChunk(), 0);
  }

  /** Makes `r` the cached last result (same `since` rule as the SQL upsert); returns the one it
   * replaces. */
  #remember(r: CheckResult): LastResult | undefined {
    const cache = this.#cache();
    const key = `${r.host}\t${r.test}`;
    const old = cache.get(key);
    // The columns of check_last, nothing more (a plugin's stderr is not stored).
    cache.set(key, {
      host: r.host,
      test: r.test,
      status: r.status,
      state: r.state,
      output: r.output,
      perfdata: r.perfdata,
      exitCode: r.exitCode,
      startedAt: r.startedAt,
      durationMs: r.durationMs,
      since: old !== undefined && old.status === r.status ? old.since : r.startedAt,
    });
    return old;
  }

  #cache(): Map<string, LastResult> {
    if (this.#lastCache === null) {
      this.#lastCache = new Map();
      for (const r of this.db.prepare("SELECT * FROM check_last").all() as Row[]) {
        const l = toLast(r);
        this.#lastCache.set(`${l.host}\t${l.test}`, l);
      }
    }
    return this.#lastCache;
  }

  /** The writes of one result, inside the caller's transaction; `previous` is the last result
   * it replaces (results are written in the order they were remembered). */
  #write(r: CheckResult, previous: LastResult | undefined): void {
    this.#history.add(r, previous ? { status: previous.status, state: previous.state } : null);
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
  }

  last(host: string, test: string): LastResult | null {
    return this.#cache().get(`${host}\t${test}`) ?? null;
  }

  /** Every check's last result, by host then test (from the cache, which mirrors check_last). */
  lastAll(): LastResult[] {
    const byName = (a: string, b: string) => a < b ? -1 : a > b ? 1 : 0;
    return [...this.#cache().values()]
      .sort((a, b) => byName(a.host, b.host) || byName(a.test, b.test))
      .map((l) => ({ ...l }));
  }

  /** How many checks' last result is a failure (FAIL or TIMEOUT). */
  failingCount(): number {
    let n = 0;
    for (const l of this.#cache().values()) if (l.status !== "OK") n++;
    return n;
  }

  history(host: string, test: string, limit = 100): HistoryEntry[] {
    this.flush();
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
    this.flush();
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
    this.flush();
    return this.#history.summaries(now);
  }

  /** One check's last 24 h and 30 days. */
  summary(host: string, test: string, now: number): CheckSummary {
    this.flush();
    return this.#history.summary(host, test, now);
  }

  /** One check's day buckets of the last 30 UTC days, oldest first. */
  days(host: string, test: string, now: number): Bucket[] {
    this.flush();
    return this.#history.days(host, test, now);
  }

  /** One check's state changes since `from`, newest first. */
  changes(host: string, test: string, from: number, limit = 100): StateChange[] {
    this.flush();
    return this.#history.changes(host, test, from, limit);
  }

  /** Drops last results of checks no longer configured (after a reload). */
  forgetExcept(keys: Set<string>): number {
    // A result still waiting would bring a forgotten check's row back when committed.
    this.flush();
    let n = 0;
    for (const r of this.lastAll()) {
      if (!keys.has(`${r.host}\t${r.test}`)) {
        this.db.prepare("DELETE FROM check_last WHERE host = ? AND test = ?").run(r.host, r.test);
        this.#lastCache?.delete(`${r.host}\t${r.test}`);
        n++;
      }
    }
    return n;
  }

  close(): void {
    if (this.db.isOpen) {
      this.flush();
      this.db.close();
    }
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
