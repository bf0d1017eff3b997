/**
 * PostgreSQL as the shared store of several central nodes: the `store:` section, the connection
 * (`npm:pg`), versioned migrations under an advisory lock. The sync tables themselves are
 * lib/sync's (store_pg.ts).
 * @module
 */
export {
  parseStoreSection,
  PG_DEFAULTS,
  type PgSettings,
  type PgTls,
  STORE_KEYS,
  storeSection,
} from "./settings.ts";
export { describePg, loadPgFiles, NOW_MS, openPg, type PgConnect, type Sql } from "./connect.ts";
export { migrate, type Migration, MIGRATION_LOCK } from "./migrate.ts";
