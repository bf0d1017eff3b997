/**
 * The central store of pulled site data, in the node's SQLite database: per site and agent, each
 * module's latest value and its history; a ledger of ingested files keyed by site + file name +
 * SHA-256 (so a re-delivered file is recognised and never ingested twice); site incidents keyed by
 * site + incident id + kind (+ reminder number), each notified once; and per-site pull status.
 *
 * Ingesting a file is one transaction: ledger row, agent, modules, incidents, site counters. The
 * caller deletes its local copy only after that commits; a crash in between leaves a file whose
 * ledger row already exists, which the next run just deletes.
 * @module
 */
import { transaction } from "../store/mod.ts";
import type { DatabaseSync, SQLInputValue } from "node:sqlite";
import { StoreError } from "../errors/mod.ts";
import type { Notification } from "../quorum/types.ts";
import { DROPPED_MODULE, INCIDENTS_MODULE } from "../spool/agent_xml.ts";
import type { SiteView } from "../status/types.ts";
import { AgentDataError, parseAgentData } from "./agent_parse.ts";
import {
  centralNotification,
  noticeSeq,
  parsePandoraTime,
  readIncidentsModule,
} from "./incidents.ts";

const SCHEMA = `
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
) WITHOUT ROWID;
`;

export type IngestStatus = "ingested" | "duplicate" | "rejected";

export interface IngestOutcome {
  status: IngestStatus;
  /** Incident notifications first seen in this file. */
  incidents: number;
  modules: number;
  error?: string;
  /** Epoch ms the site wrote the file, when it says. */
  writtenAt: number | null;
}

/** Per-site state the puller keeps. */
export interface SiteRow {
  site: string;
  address: string;
  firstSeen: number;
  lastAttempt: number | null;
  lastSuccess: number | null;
  lastError: string | null;
  errors: number;
  files: number;
  duplicates: number;
  rejected: number;
  newestDataAt: number | null;
  unreachableId: string | null;
  unreachableSince: number | null;
}

type Row = Record<string, SQLInputValue>;

export class SyncStore {
  constructor(readonly db: DatabaseSync) {
    try {
      db.exec(SCHEMA);
    } catch (e) {
      throw new StoreError(`Cannot create the sync tables: ${(e as Error).message}`, { cause: e });
    }
  }

  #tx<T>(fn: () => T): T {
    return transaction(this.db, fn);
  }

  /** True when this exact file (site, name, content) was ingested or rejected before. */
  known(site: string, name: string, sha256: string): boolean {
    return this.db.prepare("SELECT 1 FROM sync_files WHERE site = ? AND name = ? AND sha256 = ?")
      .get(site, name, sha256) !== undefined;
  }

  /** Ingests one complete file in one transaction (see the module comment). */
  ingest(
    site: string,
    name: string,
    bytes: Uint8Array,
    sha256: string,
    now: number,
  ): IngestOutcome {
    return this.#tx(() => {
      if (this.known(site, name, sha256)) {
        this.db.prepare("UPDATE sync_sites SET duplicates = duplicates + 1 WHERE site = ?").run(
          site,
        );
        return { status: "duplicate" as const, incidents: 0, modules: 0, writtenAt: null };
      }
      let parsed;
      try {
        parsed = parseAgentData(bytes);
      } catch (e) {
        if (!(e instanceof AgentDataError)) throw e;
        this.db.prepare(
          `INSERT INTO sync_files (site, name, sha256, size, agent, status, error, written_at, ingested_at)
          VALUES (?, ?, ?, ?, NULL, 'rejected', ?, NULL, ?)`,
        ).run(site, name, sha256, bytes.length, e.message, now);
        this.db.prepare("UPDATE sync_sites SET rejected = rejected + 1 WHERE site = ?").run(site);
        return {
          status: "rejected" as const,
          incidents: 0,
          modules: 0,
          error: e.message,
          writtenAt: null,
        };
      }
      const agent = parsed.attrs.agent_name!;
      const dm = Number(parsed.attrs.dmonitor_time);
      const writtenAt = Number.isSafeInteger(dm) && dm > 0
        ? dm
        : parsePandoraTime(parsed.attrs.timestamp);
      const at0 = writtenAt ?? now;
      this.db.prepare(
        `INSERT INTO sync_agents (site, agent, attrs, last_file, written_at, seen_at) VALUES (?, ?, ?, ?, ?, ?)
        ON CONFLICT (site, agent) DO UPDATE SET attrs = excluded.attrs, last_file = excluded.last_file,
          written_at = MAX(COALESCE(sync_agents.written_at, 0), COALESCE(excluded.written_at, 0)), seen_at = excluded.seen_at`,
      )
        .run(site, agent, JSON.stringify(parsed.attrs), name, writtenAt, now);
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
      let incidents = 0;
      for (const m of parsed.modules) {
        const ran = Number(m.extra.dmonitor_at);
        const at = Number.isSafeInteger(ran) && ran > 0 ? ran : at0;
        last.run(site, agent, m.name, m.type, m.data, m.description, at);
        hist.run(site, agent, m.name, m.type, m.data, at, name);
        if (m.name === INCIDENTS_MODULE && m.type === "async_string") {
          for (const n of readIncidentsModule(m.data)) {
            const c = centralNotification(site, n);
            incidents += Number(
              inc.run(site, c.incidentId, c.kind, noticeSeq(n), JSON.stringify(c), now).changes,
            );
          }
        }
      }
      this.db.prepare(
        `INSERT INTO sync_files (site, name, sha256, size, agent, status, error, written_at, ingested_at)
        VALUES (?, ?, ?, ?, ?, 'ingested', NULL, ?, ?)`,
      ).run(site, name, sha256, bytes.length, agent, writtenAt, now);
      this.db.prepare(`UPDATE sync_sites SET files = files + 1,
        newest_data_at = MAX(COALESCE(newest_data_at, 0), ?) WHERE site = ?`).run(at0, site);
      return { status: "ingested" as const, incidents, modules: parsed.modules.length, writtenAt };
    });
  }

  /** Queues a notification raised centrally (site unreachable); false when already queued. */
  queueNotification(site: string, n: Notification, now: number): boolean {
    const r = this.db.prepare(
      `INSERT OR IGNORE INTO sync_incidents (site, incident_id, kind, seq, payload, received_at)
      VALUES (?, ?, ?, ?, ?, ?)`,
    ).run(site, n.incidentId, n.kind, noticeSeq(n), JSON.stringify(n), now);
    return Number(r.changes) > 0;
  }

  /** Notifications not yet accepted by the notifier, in arrival order. */
  pendingNotifications(
    limit = 100,
  ): { key: [string, string, string, number]; notification: Notification }[] {
    const rows = this.db.prepare(`SELECT site, incident_id, kind, seq, payload FROM sync_incidents
      WHERE notified_at IS NULL ORDER BY rowid LIMIT ?`).all(limit) as Row[];
    return rows.map((r) => ({
      key: [r.site as string, r.incident_id as string, r.kind as string, r.seq as number],
      notification: JSON.parse(r.payload as string) as Notification,
    }));
  }

  markNotified(key: [string, string, string, number], now: number): void {
    this.db.prepare(
      `UPDATE sync_incidents SET notified_at = ? WHERE site = ? AND incident_id = ? AND kind = ? AND seq = ?`,
    )
      .run(now, ...key);
  }

  /** Makes sure a site has a status row (its first-seen time starts the unreachable clock). */
  ensureSite(site: string, address: string, now: number): SiteRow {
    this.db.prepare(`INSERT INTO sync_sites (site, address, first_seen) VALUES (?, ?, ?)
      ON CONFLICT (site) DO UPDATE SET address = excluded.address`).run(site, address, now);
    return this.site(site)!;
  }

  site(site: string): SiteRow | null {
    const r = this.db.prepare("SELECT * FROM sync_sites WHERE site = ?").get(site) as
      | Row
      | undefined;
    return r ? toSite(r) : null;
  }

  sites(): SiteRow[] {
    return (this.db.prepare("SELECT * FROM sync_sites ORDER BY site").all() as Row[]).map(toSite);
  }

  /** Records the outcome of one pull attempt. */
  recordAttempt(site: string, now: number, error: string | null): void {
    if (error === null) {
      this.db.prepare("UPDATE sync_sites SET last_attempt = ?, last_success = ? WHERE site = ?")
        .run(now, now, site);
    } else {
      this.db.prepare(
        `UPDATE sync_sites SET last_attempt = ?, last_error = ?, last_error_at = ?, errors = errors + 1
        WHERE site = ?`,
      ).run(now, error, now, site);
    }
  }

  setUnreachable(site: string, id: string | null, since: number | null): void {
    this.db.prepare(
      "UPDATE sync_sites SET unreachable_id = ?, unreachable_since = ? WHERE site = ?",
    ).run(id, since, site);
  }

  /** Deletes ledger rows, notified incidents and module history past their retention. */
  prune(now: number, ledgerMs: number, historyMs: number): { files: number; history: number } {
    const files =
      this.db.prepare("DELETE FROM sync_files WHERE ingested_at < ?").run(now - ledgerMs).changes;
    this.db.prepare("DELETE FROM sync_incidents WHERE notified_at IS NOT NULL AND notified_at < ?")
      .run(now - ledgerMs);
    const history =
      this.db.prepare("DELETE FROM sync_module_history WHERE at < ?").run(now - historyMs).changes;
    return { files: Number(files), history: Number(history) };
  }

  /** Latest value of every module of a site (optionally one agent). */
  modules(
    site: string,
    agent?: string,
  ): {
    agent: string;
    module: string;
    type: string;
    data: string;
    description: string | null;
    at: number;
  }[] {
    const rows =
      (agent === undefined
        ? this.db.prepare("SELECT * FROM sync_module_last WHERE site = ? ORDER BY agent, module")
          .all(site)
        : this.db.prepare(
          "SELECT * FROM sync_module_last WHERE site = ? AND agent = ? ORDER BY module",
        ).all(site, agent)) as Row[];
    return rows.map((r) => ({
      agent: r.agent as string,
      module: r.module as string,
      type: r.type as string,
      data: r.data as string,
      description: r.description as string | null,
      at: r.at as number,
    }));
  }

  /** Values of one module over time, newest first. */
  history(
    site: string,
    agent: string,
    module: string,
    limit = 100,
  ): { data: string; at: number; file: string }[] {
    return (this.db.prepare(
      `SELECT data, at, file FROM sync_module_history WHERE site = ? AND agent = ? AND module = ?
      ORDER BY at DESC, id DESC LIMIT ?`,
    ).all(site, agent, module, limit) as Row[])
      .map((r) => ({ data: r.data as string, at: r.at as number, file: r.file as string }));
  }

  /** Files each site reported dropped from its spool (sum of the latest counter per agent). */
  spoolDropped(site: string): number {
    const r = this.db.prepare(
      `SELECT SUM(CAST(data AS INTEGER)) AS n FROM sync_module_last WHERE site = ? AND module = ?`,
    )
      .get(site, DROPPED_MODULE) as { n: number | null } | undefined;
    return r?.n ?? 0;
  }

  /** The status page's view of the sites (`names` first, in that order, then any others). */
  views(now: number, names?: string[]): SiteView[] {
    const rows = new Map(this.sites().map((r) => [r.site, r]));
    const order = [...(names ?? []), ...[...rows.keys()].filter((n) => !names?.includes(n))];
    return order.map((name) => {
      const r = rows.get(name);
      return {
        name,
        lastPull: r?.lastSuccess ?? null,
        lagMs: r?.newestDataAt ? Math.max(0, now - r.newestDataAt) : null,
        files: r?.files ?? 0,
        errors: r?.errors ?? 0,
        lastError: r?.lastError ?? null,
      };
    });
  }
}

function toSite(r: Row): SiteRow {
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
