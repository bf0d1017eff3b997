/**
 * Persistent node state in SQLite (`node:sqlite`, WAL): the last result of every check and a
 * bounded history, and the shared database other parts keep their tables in.
 * @example
 * ```ts
 * using store = StateStore.open("/var/lib/dmonitor");
 * store.record(result);
 * ```
 * @module
 */
export {
  DB_FILE,
  type HistoryEntry,
  type LastResult,
  openDatabase,
  StateStore,
  transaction,
} from "./state_store.ts";
export {
  type Bucket,
  bucketStart,
  type CheckSummary,
  DAY_MS,
  FINE_MS,
  RECENT_RUNS,
  type RunCount,
  type StateChange,
} from "./history.ts";
export { migrateSqlite, type SqliteMigration } from "./migrate.ts";
