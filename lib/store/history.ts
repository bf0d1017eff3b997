/**
 * Per-check history with a fixed bound per check, whatever the number of runs: state changes
 * (kept for `history_retention`), run counts and response times rolled up into hour buckets
 * (kept 25 h) and UTC-day buckets (kept for `history_retention`, at least 31 days, so uptime over
 * 30 days is always known), and the raw last {@link RECENT_RUNS} runs (output and perfdata, for
 * the per-check page). Nothing grows with the number of runs: 1,000 checks at 60 s for 30 days
 * measure as bench/history_size.ts prints (README, "State database").
 * @module
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";
import type { CheckResult, RawState, Status } from "../runner/result.ts";

/** Width of a fine bucket: the 24-hour charts have one bar per bucket. */
export const FINE_MS = 3_600_000;
/** How long fine buckets are kept (a day and an hour, so "the last 24 h" is always whole). */
export const FINE_KEEP_MS = 25 * FINE_MS;
export const DAY_MS = 86_400_000;
/** Day buckets are kept at least this long, whatever `history_retention` says. */
export const DAILY_KEEP_MIN_MS = 31 * DAY_MS;
/** Raw runs (output, perfdata) kept per check. */
export const RECENT_RUNS = 120;

export const HISTORY_SCHEMA = `
CREATE TABLE IF NOT EXISTS check_ids (
  id INTEGER PRIMARY KEY, host TEXT NOT NULL, test TEXT NOT NULL, UNIQUE (host, test)
);
CREATE TABLE IF NOT EXISTS check_rollup (
  check_id INTEGER NOT NULL, tier INTEGER NOT NULL, start INTEGER NOT NULL, runs INTEGER NOT NULL,
  ok INTEGER NOT NULL, dur_sum INTEGER NOT NULL, dur_max INTEGER NOT NULL,
  PRIMARY KEY (check_id, tier, start)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS check_changes (
  check_id INTEGER NOT NULL, at INTEGER NOT NULL, status TEXT NOT NULL, state TEXT NOT NULL,
  output TEXT NOT NULL, PRIMARY KEY (check_id, at)
) WITHOUT ROWID;
`;

/** Runs of one check in one bucket. `ok` counts runs whose status was OK. */
export interface Bucket {
  start: number;
  runs: number;
  ok: number;
  durSumMs: number;
  durMaxMs: number;
}

/** The check entered `state` (and `status`) at `at`. */
export interface StateChange {
  at: number;
  status: Status;
  state: RawState;
  output: string;
}

/** Passed and total runs over a window. */
export interface RunCount {
  runs: number;
  ok: number;
}

/** What the views draw for one check over the last 24 h and 30 days, read in a few queries. */
export interface CheckSummary {
  /** Hour buckets of the last 24 hours (the current one included), oldest first. */
  fine: Bucket[];
  /** Runs over the last 7 and 30 UTC days (today included). */
  days7: RunCount;
  days30: RunCount;
  /** State changes in the last 24 h, oldest first. */
  changes: StateChange[];
  /** The last change before the 24 h window (the state it opens with), or null. */
  before: StateChange | null;
}

const TIER_FINE = 0;
const TIER_DAY = 1;

/** Start of the bucket holding `at`. */
export function bucketStart(at: number, width: number): number {
  return Math.floor(at / width) * width;
}

type Row = Record<string, number | string | null>;

/** Rows as arrays (node:sqlite `setReturnArrays`; Deno has it, its typings do not yet). */
function asArrays(st: StatementSync): void {
  (st as unknown as { setReturnArrays(on: boolean): void }).setReturnArrays(true);
}

const toBucket = (r: Row): Bucket => ({
  start: r.start as number,
  runs: r.runs as number,
  ok: r.ok as number,
  durSumMs: r.dur_sum as number,
  durMaxMs: r.dur_max as number,
});

const toChange = (r: Row): StateChange => ({
  at: r.at as number,
  status: r.status as Status,
  state: r.state as RawState,
  output: r.output as string,
});

/** The history tables of one database; {@link StateStore} writes through it in its transaction. */
export class CheckHistoryTables {
  readonly #ids = new Map<string, number>();
  readonly #insertId: StatementSync;
  readonly #getId: StatementSync;
  readonly #rollup: StatementSync;
  readonly #change: StatementSync;

  constructor(readonly db: DatabaseSync) {
    db.exec(HISTORY_SCHEMA);
    this.#insertId = db.prepare("INSERT OR IGNORE INTO check_ids (host, test) VALUES (?, ?)");
    this.#getId = db.prepare("SELECT id FROM check_ids WHERE host = ? AND test = ?");
    this.#rollup = db.prepare(`
      INSERT INTO check_rollup (check_id, tier, start, runs, ok, dur_sum, dur_max)
      VALUES (?, ?, ?, 1, ?, ?, ?)
      ON CONFLICT (check_id, tier, start) DO UPDATE SET runs = runs + 1, ok = ok + excluded.ok,
        dur_sum = dur_sum + excluded.dur_sum, dur_max = max(dur_max, excluded.dur_max)`);
    this.#change = db.prepare(
      "INSERT OR REPLACE INTO check_changes (check_id, at, status, state, output) VALUES (?, ?, ?, ?, ?)",
    );
  }

  /** The check's numeric id (created on first use; ids are never reused). */
  idOf(host: string, test: string): number {
    const key = `${host}\t${test}`;
    let id = this.#ids.get(key);
    if (id === undefined) {
      this.#insertId.run(host, test);
      id = (this.#getId.get(host, test) as { id: number }).id;
      this.#ids.set(key, id);
    }
    return id;
  }

  /** Adds one run to its buckets, and a change row when status or state differ from `previous`. */
  add(r: CheckResult, previous: { status: string; state: string } | null): void {
    const id = this.idOf(r.host, r.test);
    const ok = r.status === "OK" ? 1 : 0;
    const ms = Math.max(0, Math.round(r.durationMs));
    this.#rollup.run(id, TIER_FINE, bucketStart(r.startedAt, FINE_MS), ok, ms, ms);
    this.#rollup.run(id, TIER_DAY, bucketStart(r.startedAt, DAY_MS), ok, ms, ms);
    if (!previous || previous.status !== r.status || previous.state !== r.state) {
      this.#change.run(id, r.startedAt, r.status, r.state, r.output);
    }
  }

  /** Drops buckets and changes past their keep times; the last change before the cut stays. */
  prune(now: number, retentionMs: number): number {
    let n = 0;
    n += Number(
      this.db.prepare("DELETE FROM check_rollup WHERE tier = ? AND start < ?").run(
        TIER_FINE,
        now - FINE_KEEP_MS,
      ).changes,
    );
    n += Number(
      this.db.prepare("DELETE FROM check_rollup WHERE tier = ? AND start < ?").run(
        TIER_DAY,
        bucketStart(now - Math.max(retentionMs, DAILY_KEEP_MIN_MS), DAY_MS),
      ).changes,
    );
    const cut = now - retentionMs;
    n += Number(
      this.db.prepare(`DELETE FROM check_changes WHERE at < ? AND at < (
        SELECT MAX(c.at) FROM check_changes c WHERE c.check_id = check_changes.check_id AND c.at < ?)`)
        .run(cut, cut).changes,
    );
    return n;
  }

  /** Summaries of every check with history (keyed `host\ttest`), for the views at `now`. */
  summaries(now: number, only?: { host: string; test: string }): Map<string, CheckSummary> {
    const from = now - DAY_MS;
    const onlyId = only
      ? (this.#getId.get(only.host, only.test) as { id: number } | undefined)?.id
      : undefined;
    if (only && onlyId === undefined) return new Map();
    // onlyId is an integer from the database itself.
    const and = onlyId === undefined ? "" : ` AND check_id = ${onlyId}`;
    const out = new Map<string, CheckSummary>();
    const names = new Map<number, string>();
    const ids = this.db.prepare(
      `SELECT id, host, test FROM check_ids${onlyId === undefined ? "" : ` WHERE id = ${onlyId}`}`,
    );
    asArrays(ids);
    for (const [id, host, test] of ids.all() as unknown as [number, string, string][]) {
      names.set(id, `${host}\t${test}`);
    }
    const of = (id: number): CheckSummary | null => {
      const key = names.get(id);
      if (key === undefined) return null;
      let s = out.get(key);
      if (!s) {
        out.set(
          key,
          s = {
            fine: [],
            days7: { runs: 0, ok: 0 },
            days30: { runs: 0, ok: 0 },
            changes: [],
            before: null,
          },
        );
      }
      return s;
    };
    // Rows as arrays: node:sqlite builds an object per row at a few microseconds each, and the
    // page reads some 25 rows per check.
    const fine = this.db.prepare(
      `SELECT check_id, start, runs, ok, dur_sum, dur_max FROM check_rollup
       WHERE tier = ? AND start > ?${and} ORDER BY check_id, start`,
    );
    asArrays(fine);
    for (
      const [id, start, runs, ok, durSumMs, durMaxMs] of fine.all(
        TIER_FINE,
        bucketStart(now, FINE_MS) - DAY_MS,
      ) as unknown as number[][]
    ) {
      of(id!)?.fine.push({
        start: start!,
        runs: runs!,
        ok: ok!,
        durSumMs: durSumMs!,
        durMaxMs: durMaxMs!,
      });
    }
    const today = bucketStart(now, DAY_MS);
    const days = this.db.prepare(
      `SELECT check_id, SUM(runs), SUM(ok), SUM(CASE WHEN start >= ? THEN runs ELSE 0 END),
        SUM(CASE WHEN start >= ? THEN ok ELSE 0 END) FROM check_rollup
       WHERE tier = ? AND start >= ?${and} GROUP BY check_id`,
    );
    asArrays(days);
    const d7 = today - 6 * DAY_MS;
    for (
      const [id, r30, o30, r7, o7] of days.all(
        d7,
        d7,
        TIER_DAY,
        today - 29 * DAY_MS,
      ) as unknown as number[][]
    ) {
      const s = of(id!);
      if (!s) continue;
      s.days30 = { runs: r30!, ok: o30! };
      s.days7 = { runs: r7!, ok: o7! };
    }
    const changes = this.db.prepare(
      `SELECT * FROM check_changes WHERE at >= ?${and} ORDER BY check_id, at`,
    ).all(from) as Row[];
    for (const r of changes) of(r.check_id as number)?.changes.push(toChange(r));
    // SQLite takes the bare columns from the row holding MAX(at).
    const before = this.db.prepare(
      `SELECT check_id, MAX(at) AS at, status, state, output FROM check_changes WHERE at < ?${and} GROUP BY check_id`,
    ).all(from) as Row[];
    for (const r of before) {
      const s = of(r.check_id as number);
      if (s) s.before = toChange(r);
    }
    return out;
  }

  /** One check's summary (empty when it has no history). */
  summary(host: string, test: string, now: number): CheckSummary {
    return this.summaries(now, { host, test }).get(`${host}\t${test}`) ?? {
      fine: [],
      days7: { runs: 0, ok: 0 },
      days30: { runs: 0, ok: 0 },
      changes: [],
      before: null,
    };
  }

  /** One check's day buckets of the last 30 UTC days (today included), oldest first. */
  days(host: string, test: string, now: number): Bucket[] {
    const id = this.#getId.get(host, test) as { id: number } | undefined;
    if (!id) return [];
    return (this.db.prepare(
      "SELECT * FROM check_rollup WHERE check_id = ? AND tier = ? AND start >= ? ORDER BY start",
    ).all(id.id, TIER_DAY, bucketStart(now, DAY_MS) - 29 * DAY_MS) as Row[]).map(toBucket);
  }

  /** One check's state changes since `from`, newest first, at most `limit`. */
  changes(host: string, test: string, from: number, limit = 100): StateChange[] {
    const id = this.#getId.get(host, test) as { id: number } | undefined;
    if (!id) return [];
    return (this.db.prepare(
      "SELECT * FROM check_changes WHERE check_id = ? AND at >= ? ORDER BY at DESC LIMIT ?",
    ).all(id.id, from, limit) as Row[]).map(toChange);
  }
}
