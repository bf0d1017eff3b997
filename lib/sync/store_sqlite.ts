/**
 * {@link SyncStore} in SQLite (the node's own database, the embedded default). Synchronous
 * `node:sqlite` underneath; every write is one `BEGIN IMMEDIATE` transaction, so another process
 * on the same file (a cron `dmonitor sync --once`) never interleaves. Leases use the caller's
 * clock: in one file there is one machine.
 * @module
 */
import { migrateSqlite, transaction } from "../store/mod.ts";
import type { DatabaseSync, SQLInputValue } from "node:sqlite";
import type { Notification } from "../quorum/types.ts";
import { DROPPED_MODULE } from "../spool/agent_xml.ts";
import type { SiteView } from "../status/types.ts";
import { noticeSeq } from "./incidents.ts";
import {
  type IngestOutcome,
  type Lease,
  type LeaseGrant,
  LeaseLostError,
  type ModuleValue,
  type NoticeKey,
  type PendingNotice,
  planIngest,
  type SiteRow,
  siteViews,
  type SyncStore,
} from "./store.ts";

/** The sync schema's versions (migration 1 is the schema from before versioning: IF NOT EXISTS). */
export const SQLITE_MIGRATIONS = [
  {
    version: 1,
    name: "ledger, agents, modules, history, incidents, sites",
    sql: `
CREATE TABLE IF NOT EXISTS sync_files (
  site TEXT NOT NULL, name TEXT NOT NULL, sha256 TEXT NOT NULL, size INTEGER NOT NULL,
  agent TEXT, status TEXT NOT NULL CHECK (status IN ('ingested', 'rejected')), error TEXT,
  written_at INTEGER, ingested_at INTEGER NOT NULL,
  PRIMARY KEY (site, name, sha256)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS sync_files_time ON sync_files (ingested_at);
CREATE TABLE IF NOT EXISTS sync_agents (
  site TEXT NOT NULL, agent TEXT NOT NULL, attrs TEXT NOT NULL, last_file TEXT NOT NULL,
  written_at INTEGER, seen_at INTEGER NOT NULL,
  PRIMARY KEY (site, agent)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sync_module_last (
  site TEXT NOT NULL, agent TEXT NOT NULL, module TEXT NOT NULL, type TEXT NOT NULL,
  data TEXT NOT NULL, description TEXT, at INTEGER NOT NULL,
  PRIMARY KEY (site, agent, module)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sync_module_history (
  id INTEGER PRIMARY KEY, site TEXT NOT NULL, agent TEXT NOT NULL, module TEXT NOT NULL,
  type TEXT NOT NULL, data TEXT NOT NULL, at INTEGER NOT NULL, file TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sync_module_history_key ON sync_module_history (site, agent, module, at);
CREATE INDEX IF NOT EXISTS sync_module_history_time ON sync_module_history (at);
CREATE TABLE IF NOT EXISTS sync_incidents (
  site TEXT NOT NULL, incident_id TEXT NOT NULL, kind TEXT NOT NULL, seq INTEGER NOT NULL,
  payload TEXT NOT NULL, received_at INTEGER NOT NULL, notified_at INTEGER,
  UNIQUE (site, incident_id, kind, seq)
);
CREATE INDEX IF NOT EXISTS sync_incidents_pending ON sync_incidents (notified_at);
CREATE TABLE IF NOT EXISTS sync_sites (
  site TEXT PRIMARY KEY, address TEXT NOT NULL, first_seen INTEGER NOT NULL,
  last_attempt INTEGER, last_success INTEGER, last_error TEXT, last_error_at INTEGER,
  errors INTEGER NOT NULL DEFAULT 0, files INTEGER NOT NULL DEFAULT 0, duplicates INTEGER NOT NULL DEFAULT 0,
  rejected INTEGER NOT NULL DEFAULT 0, newest_data_at INTEGER,
  unreachable_id TEXT, unreachable_since INTEGER
) WITHOUT ROWID;`,
  },
  {
    version: 2,
    name: "notification claims and site leases",
    sql: `
ALTER TABLE sync_incidents ADD COLUMN claimed_by TEXT;
CREATE TABLE sync_leases (
  site TEXT PRIMARY KEY, holder TEXT NOT NULL, since INTEGER NOT NULL, expires_at INTEGER NOT NULL,
  epoch INTEGER NOT NULL DEFAULT 1
) WITHOUT ROWID;`,
  },
  {
    version: 3,
    name: "central nodes' heartbeats",
    sql: `CREATE TABLE sync_nodes (node TEXT PRIMARY KEY, seen_at INTEGER NOT NULL) WITHOUT ROWID;`,
  },
] as const;

type Row = Record<string, SQLInputValue>;

export class SqliteSyncStore implements SyncStore {
  readonly kind = "sqlite" as const;

  constructor(readonly db: DatabaseSync, now = Date.now()) {
    migrateSqlite(db, "sync", SQLITE_MIGRATIONS, now);
  }

  #tx<T>(fn: () => T): T {
    return transaction(this.db, fn);
  }

  #known(site: string, name: string, sha256: string): boolean {
    return this.db.prepare("SELECT 1 FROM sync_files WHERE site = ? AND name = ? AND sha256 = ?")
      .get(site, name, sha256) !== undefined;
  }

  known(site: string, name: string, sha256: string): Promise<boolean> {
    return Promise.resolve(this.#known(site, name, sha256));
  }

  ingest(
    site: string,
    name: string,
    bytes: Uint8Array,
    sha256: string,
    now: number,
    fence?: { holder: string; ttlMs: number },
  ): Promise<IngestOutcome> {
    return Promise.resolve().then(() => this.#ingest(site, name, bytes, sha256, now, fence));
  }

  #ingest(
    site: string,
    name: string,
    bytes: Uint8Array,
    sha256: string,
    now: number,
    fence?: { holder: string; ttlMs: number },
  ): IngestOutcome {
    const plan = planIngest(site, bytes, now);
    return this.#tx(() => {
      if (fence) {
        const r = this.db.prepare(
          "UPDATE sync_leases SET expires_at = ? WHERE site = ? AND holder = ? AND expires_at > ?",
        ).run(now + fence.ttlMs, site, fence.holder, now);
        if (Number(r.changes) === 0) throw new LeaseLostError(site, fence.holder);
      }
      if (this.#known(site, name, sha256)) {
        this.db.prepare("UPDATE sync_sites SET duplicates = duplicates + 1 WHERE site = ?").run(
          site,
        );
        return { status: "duplicate" as const, incidents: 0, modules: 0, writtenAt: null };
      }
      if (!plan.ok) {
        this.db.prepare(
          `INSERT INTO sync_files (site, name, sha256, size, agent, status, error, written_at, ingested_at)
          VALUES (?, ?, ?, ?, NULL, 'rejected', ?, NULL, ?)`,
        ).run(site, name, sha256, bytes.length, plan.error, now);
        this.db.prepare("UPDATE sync_sites SET rejected = rejected + 1 WHERE site = ?").run(site);
        return {
          status: "rejected" as const,
          incidents: 0,
          modules: 0,
          error: plan.error,
          writtenAt: null,
        };
      }
      const { agent, writtenAt, at0 } = plan;
      this.db.prepare(
        `INSERT INTO sync_agents (site, agent, attrs, last_file, written_at, seen_at) VALUES (?, ?, ?, ?, ?, ?)
        ON CONFLICT (site, agent) DO UPDATE SET attrs = excluded.attrs, last_file = excluded.last_file,
          written_at = MAX(COALESCE(sync_agents.written_at, 0), COALESCE(excluded.written_at, 0)), seen_at = excluded.seen_at`,
      )
        .run(site, agent, JSON.stringify(plan.attrs), name, writtenAt, now);
      const last = this.db.prepare(
        `INSERT INTO sync_module_last (site, agent, module, type, data, description, at)
        VALUES (?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (site, agent, module) DO UPDATE SET type = excluded.type, data = excluded.data,
          description = excluded.description, at = excluded.at WHERE excluded.at >= sync_module_last.at`,
      );
      const hist = this.db.prepare(
        `INSERT INTO sync_module_history (site, agent, module, type, data, at, file)
        VALUES (?, ?, ?, ?, ?, ?, ?)`,
      );
      const inc = this.db.prepare(
        `INSERT OR IGNORE INTO sync_incidents (site, incident_id, kind, seq, payload, received_at)
        VALUES (?, ?, ?, ?, ?, ?)`,
      );
      for (const m of plan.modules) {
        last.run(site, agent, m.name, m.type, m.data, m.description, m.at);
        hist.run(site, agent, m.name, m.type, m.data, m.at, name);
      }
      let incidents = 0;
      for (const i of plan.incidents) {
        incidents += Number(inc.run(site, i.incidentId, i.kind, i.seq, i.payload, now).changes);
      }
      this.db.prepare(
        `INSERT INTO sync_files (site, name, sha256, size, agent, status, error, written_at, ingested_at)
        VALUES (?, ?, ?, ?, ?, 'ingested', NULL, ?, ?)`,
      ).run(site, name, sha256, bytes.length, agent, writtenAt, now);
      this.db.prepare(`UPDATE sync_sites SET files = files + 1,
        newest_data_at = MAX(COALESCE(newest_data_at, 0), ?) WHERE site = ?`).run(at0, site);
      return { status: "ingested" as const, incidents, modules: plan.modules.length, writtenAt };
    });
  }

  queueNotification(site: string, n: Notification, now: number): Promise<boolean> {
    const r = this.db.prepare(
      `INSERT OR IGNORE INTO sync_incidents (site, incident_id, kind, seq, payload, received_at)
      VALUES (?, ?, ?, ?, ?, ?)`,
    ).run(site, n.incidentId, n.kind, noticeSeq(n), JSON.stringify(n), now);
    return Promise.resolve(Number(r.changes) > 0);
  }

  #pending(where: string, args: SQLInputValue[], limit: number): PendingNotice[] {
    const rows = this.db.prepare(`SELECT site, incident_id, kind, seq, payload FROM sync_incidents
      WHERE notified_at IS NULL ${where} ORDER BY rowid LIMIT ?`).all(...args, limit) as Row[];
    return rows.map((r) => ({
      key: [r.site as string, r.incident_id as string, r.kind as string, r.seq as number],
      notification: JSON.parse(r.payload as string) as Notification,
    }));
  }

  pendingNotifications(limit = 100): Promise<PendingNotice[]> {
    return Promise.resolve(this.#pending("", [], limit));
  }

  claimNotifications(
    node: string,
    sites: string[] | null,
    limit = 100,
  ): Promise<PendingNotice[]> {
    return Promise.resolve(this.#tx(() => {
      const bySite = sites === null ? "" : `AND site IN (SELECT value FROM json_each(?))`;
      this.db.prepare(
        `UPDATE sync_incidents SET claimed_by = ? WHERE rowid IN (SELECT rowid FROM sync_incidents
        WHERE notified_at IS NULL AND claimed_by IS NULL ${bySite} ORDER BY rowid LIMIT ?)`,
      ).run(node, ...(sites === null ? [] : [JSON.stringify(sites)]), limit);
      return this.#pending("AND claimed_by = ?", [node], limit);
    }));
  }

  markNotified(key: NoticeKey, now: number): Promise<void> {
    this.db.prepare(
      `UPDATE sync_incidents SET notified_at = ? WHERE site = ? AND incident_id = ? AND kind = ? AND seq = ?`,
    ).run(now, ...key);
    return Promise.resolve();
  }

  ensureSite(site: string, address: string, now: number): Promise<SiteRow> {
    this.db.prepare(`INSERT INTO sync_sites (site, address, first_seen) VALUES (?, ?, ?)
      ON CONFLICT (site) DO UPDATE SET address = excluded.address`).run(site, address, now);
    return Promise.resolve(this.#site(site)!);
  }

  #site(site: string): SiteRow | null {
    const r = this.db.prepare("SELECT * FROM sync_sites WHERE site = ?").get(site) as
      | Row
      | undefined;
    return r ? toSite(r) : null;
  }

  site(site: string): Promise<SiteRow | null> {
    return Promise.resolve(this.#site(site));
  }

  #sites(): SiteRow[] {
    return (this.db.prepare("SELECT * FROM sync_sites ORDER BY site").all() as Row[]).map(toSite);
  }

  sites(): Promise<SiteRow[]> {
    return Promise.resolve(this.#sites());
  }

  recordAttempt(site: string, now: number, error: string | null): Promise<void> {
    if (error === null) {
      this.db.prepare("UPDATE sync_sites SET last_attempt = ?, last_success = ? WHERE site = ?")
        .run(now, now, site);
    } else {
      this.db.prepare(
        `UPDATE sync_sites SET last_attempt = ?, last_error = ?, last_error_at = ?, errors = errors + 1
        WHERE site = ?`,
      ).run(now, error, now, site);
    }
    return Promise.resolve();
  }

  setUnreachable(site: string, id: string | null, since: number | null): Promise<void> {
    this.db.prepare(
      "UPDATE sync_sites SET unreachable_id = ?, unreachable_since = ? WHERE site = ?",
    ).run(id, since, site);
    return Promise.resolve();
  }

  prune(
    now: number,
    ledgerMs: number,
    historyMs: number,
  ): Promise<{ files: number; history: number }> {
    const files =
      this.db.prepare("DELETE FROM sync_files WHERE ingested_at < ?").run(now - ledgerMs).changes;
    this.db.prepare("DELETE FROM sync_incidents WHERE notified_at IS NOT NULL AND notified_at < ?")
      .run(now - ledgerMs);
    const history =
      this.db.prepare("DELETE FROM sync_module_history WHERE at < ?").run(now - historyMs).changes;
    return Promise.resolve({ files: Number(files), history: Number(history) });
  }

  modules(site: string, agent?: string): Promise<ModuleValue[]> {
    const rows =
      (agent === undefined
        ? this.db.prepare("SELECT * FROM sync_module_last WHERE site = ? ORDER BY agent, module")
          .all(site)
        : this.db.prepare(
          "SELECT * FROM sync_module_last WHERE site = ? AND agent = ? ORDER BY module",
        ).all(site, agent)) as Row[];
    return Promise.resolve(rows.map(toModule));
  }

  history(
    site: string,
    agent: string,
    module: string,
    limit = 100,
  ): Promise<{ data: string; at: number; file: string }[]> {
    return Promise.resolve(
      (this.db.prepare(
        `SELECT data, at, file FROM sync_module_history WHERE site = ? AND agent = ? AND module = ?
      ORDER BY at DESC, id DESC LIMIT ?`,
      ).all(site, agent, module, limit) as Row[])
        .map((r) => ({ data: r.data as string, at: r.at as number, file: r.file as string })),
    );
  }

  spoolDropped(site: string): Promise<number> {
    const r = this.db.prepare(
      `SELECT SUM(CAST(data AS INTEGER)) AS n FROM sync_module_last WHERE site = ? AND module = ?`,
    )
      .get(site, DROPPED_MODULE) as { n: number | null } | undefined;
    return Promise.resolve(r?.n ?? 0);
  }

  acquireLease(site: string, holder: string, ttlMs: number, now: number): Promise<LeaseGrant> {
    return Promise.resolve(this.#tx(() => {
      const before = this.#lease(site);
      if (before && before.holder !== holder && before.expiresAt > now) {
        return { held: false, lease: before, takenFrom: null, expiredFor: null };
      }
      const same = before?.holder === holder;
      this.db.prepare(
        `INSERT INTO sync_leases (site, holder, since, expires_at, epoch) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT (site) DO UPDATE SET holder = excluded.holder, since = excluded.since,
          expires_at = excluded.expires_at, epoch = excluded.epoch`,
      ).run(
        site,
        holder,
        same ? before!.since : now,
        now + ttlMs,
        (before?.epoch ?? 0) + (same ? 0 : 1),
      );
      const taken = before && !same ? before : null;
      return {
        held: true,
        lease: this.#lease(site),
        takenFrom: taken?.holder ?? null,
        expiredFor: taken ? now - taken.expiresAt : null,
      };
    }));
  }

  renewLeases(holder: string, ttlMs: number, now: number): Promise<string[]> {
    const rows = this.db.prepare(
      "UPDATE sync_leases SET expires_at = ? WHERE holder = ? AND expires_at > ? RETURNING site",
    ).all(now + ttlMs, holder, now) as Row[];
    return Promise.resolve(rows.map((r) => r.site as string));
  }

  releaseLeases(holder: string): Promise<void> {
    this.db.prepare("DELETE FROM sync_leases WHERE holder = ?").run(holder);
    return Promise.resolve();
  }

  releaseLease(site: string, holder: string): Promise<void> {
    this.db.prepare("DELETE FROM sync_leases WHERE site = ? AND holder = ?").run(site, holder);
    return Promise.resolve();
  }

  heartbeat(node: string, now: number): Promise<void> {
    this.db.prepare(
      `INSERT INTO sync_nodes (node, seen_at) VALUES (?, ?)
      ON CONFLICT (node) DO UPDATE SET seen_at = excluded.seen_at`,
    ).run(node, now);
    return Promise.resolve();
  }

  liveNodes(withinMs: number, now: number): Promise<string[]> {
    return Promise.resolve(
      (this.db.prepare("SELECT node FROM sync_nodes WHERE seen_at >= ? ORDER BY node").all(
        now - withinMs,
      ) as Row[]).map((r) => r.node as string),
    );
  }

  #lease(site: string): Lease | null {
    const r = this.db.prepare("SELECT * FROM sync_leases WHERE site = ?").get(site) as
      | Row
      | undefined;
    return r ? toLease(r) : null;
  }

  leases(): Promise<Lease[]> {
    return Promise.resolve(
      (this.db.prepare("SELECT * FROM sync_leases ORDER BY site").all() as Row[]).map(toLease),
    );
  }

  views(now: number, names?: string[]): Promise<SiteView[]> {
    const leases = (this.db.prepare("SELECT * FROM sync_leases").all() as Row[]).map(toLease);
    return Promise.resolve(siteViews(this.#sites(), leases, now, names));
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

function toLease(r: Row): Lease {
  return {
    site: r.site as string,
    holder: r.holder as string,
    since: r.since as number,
    expiresAt: r.expires_at as number,
    epoch: r.epoch as number,
  };
}

export function toModule(r: Record<string, unknown>): ModuleValue {
  return {
    agent: r.agent as string,
    module: r.module as string,
    type: r.type as string,
    data: r.data as string,
    description: r.description as string | null,
    at: r.at as number,
  };
}

export function toSite(r: Record<string, unknown>): SiteRow {
  return {
    site: r.site as string,
    address: r.address as string,
    firstSeen: r.first_seen as number,
    lastAttempt: r.last_attempt as number | null,
    lastSuccess: r.last_success as number | null,
    lastError: r.last_error as string | null,
    errors: r.errors as number,
    files: r.files as number,
    duplicates: r.duplicates as number,
    rejected: r.rejected as number,
    newestDataAt: r.newest_data_at as number | null,
    unreachableId: r.unreachable_id as string | null,
    unreachableSince: r.unreachable_since as number | null,
  };
}
