/**
 * {@link SyncStore} in PostgreSQL, shared by several central nodes. The same tables as SQLite
 * (times as BIGINT epoch ms). What sharing adds:
 * - ingest writes the ledger row first (`ON CONFLICT DO NOTHING`): of two nodes ingesting one
 *   file at once, the second waits for the first's commit and finds a duplicate, never a double;
 * - a fenced ingest renews the site's lease in the same transaction and writes nothing when the
 *   lease went to another node;
 * - leases are timed by the server's clock, so the nodes' clocks need not agree;
 * - notifications are claimed for one node with `FOR UPDATE SKIP LOCKED`, so no two nodes hand
 *   the same one to their notifiers.
 * @module
 */
import { migrate, type Migration, NOW_MS, type Sql } from "../pg/mod.ts";
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
import { toModule, toSite } from "./store_sqlite.ts";

export const PG_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "ledger, agents, modules, history, incidents, sites",
    sql: `
CREATE TABLE sync_files (
  site TEXT NOT NULL, name TEXT NOT NULL, sha256 TEXT NOT NULL, size BIGINT NOT NULL,
  agent TEXT, status TEXT NOT NULL CHECK (status IN ('ingested', 'rejected')), error TEXT,
  written_at BIGINT, ingested_at BIGINT NOT NULL,
  PRIMARY KEY (site, name, sha256)
);
CREATE INDEX sync_files_time ON sync_files (ingested_at);
CREATE TABLE sync_agents (
  site TEXT NOT NULL, agent TEXT NOT NULL, attrs TEXT NOT NULL, last_file TEXT NOT NULL,
  written_at BIGINT, seen_at BIGINT NOT NULL,
  PRIMARY KEY (site, agent)
);
CREATE TABLE sync_module_last (
  site TEXT NOT NULL, agent TEXT NOT NULL, module TEXT NOT NULL, type TEXT NOT NULL,
  data TEXT NOT NULL, description TEXT, at BIGINT NOT NULL,
  PRIMARY KEY (site, agent, module)
);
CREATE TABLE sync_module_history (
  id BIGSERIAL PRIMARY KEY, site TEXT NOT NULL, agent TEXT NOT NULL, module TEXT NOT NULL,
  type TEXT NOT NULL, data TEXT NOT NULL, at BIGINT NOT NULL, file TEXT NOT NULL
);
CREATE INDEX sync_module_history_key ON sync_module_history (site, agent, module, at);
CREATE INDEX sync_module_history_time ON sync_module_history (at);
CREATE TABLE sync_incidents (
  id BIGSERIAL PRIMARY KEY,
  site TEXT NOT NULL, incident_id TEXT NOT NULL, kind TEXT NOT NULL, seq INTEGER NOT NULL,
  payload TEXT NOT NULL, received_at BIGINT NOT NULL, notified_at BIGINT, claimed_by TEXT,
  UNIQUE (site, incident_id, kind, seq)
);
CREATE INDEX sync_incidents_pending ON sync_incidents (notified_at);
CREATE TABLE sync_sites (
  site TEXT PRIMARY KEY, address TEXT NOT NULL, first_seen BIGINT NOT NULL,
  last_attempt BIGINT, last_success BIGINT, last_error TEXT, last_error_at BIGINT,
  errors BIGINT NOT NULL DEFAULT 0, files BIGINT NOT NULL DEFAULT 0, duplicates BIGINT NOT NULL DEFAULT 0,
  rejected BIGINT NOT NULL DEFAULT 0, newest_data_at BIGINT,
  unreachable_id TEXT, unreachable_since BIGINT
);
CREATE TABLE sync_leases (
  site TEXT PRIMARY KEY, holder TEXT NOT NULL, since BIGINT NOT NULL, expires_at BIGINT NOT NULL,
  epoch BIGINT NOT NULL DEFAULT 1
);`,
  },
  {
    version: 2,
    name: "central nodes' heartbeats",
    sql: `CREATE TABLE sync_nodes (node TEXT PRIMARY KEY, seen_at BIGINT NOT NULL);`,
  },
];

type Row = Record<string, unknown>;

export class PgSyncStore implements SyncStore {
  readonly kind = "postgresql" as const;

  private constructor(readonly sql: Sql, readonly ownsSql: boolean) {}

  /** Runs the migrations (under the advisory lock) and returns the store. */
  static async open(sql: Sql, o: { node: string; owns?: boolean }): Promise<PgSyncStore> {
    await migrate(sql, "sync", PG_MIGRATIONS, o.node);
    return new PgSyncStore(sql, o.owns ?? false);
  }

  async known(site: string, name: string, sha256: string): Promise<boolean> {
    const r = await this.sql.unsafe(
      "SELECT 1 FROM sync_files WHERE site = $1 AND name = $2 AND sha256 = $3",
      [site, name, sha256],
    );
    return r.length > 0;
  }

  async ingest(
    site: string,
    name: string,
    bytes: Uint8Array,
    sha256: string,
    now: number,
    fence?: { holder: string; ttlMs: number },
  ): Promise<IngestOutcome> {
    const plan = planIngest(site, bytes, now);
    return await this.sql.begin(async (tx) => {
      if (fence) {
        const r = await tx.unsafe(
          `UPDATE sync_leases SET expires_at = ${NOW_MS} + $3
          WHERE site = $1 AND holder = $2 AND expires_at > ${NOW_MS} RETURNING 1`,
          [site, fence.holder, fence.ttlMs],
        );
        if (r.length === 0) throw new LeaseLostError(site, fence.holder);
      }
      const ledger = await tx.unsafe(
        `INSERT INTO sync_files (site, name, sha256, size, agent, status, error, written_at, ingested_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING RETURNING 1`,
        [
          site,
          name,
          sha256,
          bytes.length,
          plan.ok ? plan.agent : null,
          plan.ok ? "ingested" : "rejected",
          plan.ok ? null : plan.error,
          plan.ok ? plan.writtenAt : null,
          now,
        ],
      );
      if (ledger.length === 0) {
        await tx.unsafe("UPDATE sync_sites SET duplicates = duplicates + 1 WHERE site = $1", [
          site,
        ]);
        return { status: "duplicate" as const, incidents: 0, modules: 0, writtenAt: null };
      }
      if (!plan.ok) {
        await tx.unsafe("UPDATE sync_sites SET rejected = rejected + 1 WHERE site = $1", [site]);
        return {
          status: "rejected" as const,
          incidents: 0,
          modules: 0,
          error: plan.error,
          writtenAt: null,
        };
      }
      const { agent, writtenAt, at0 } = plan;
      // The rest goes out at once, pipelined on the transaction's connection (one round trip
      // instead of one per statement); the server runs it in order.
      const writes: Promise<unknown>[] = [];
      writes.push(tx.unsafe(
        `INSERT INTO sync_agents (site, agent, attrs, last_file, written_at, seen_at)
        VALUES ($1, $2, $3, $4, $5, $6)
        ON CONFLICT (site, agent) DO UPDATE SET attrs = excluded.attrs, last_file = excluded.last_file,
          written_at = GREATEST(COALESCE(sync_agents.written_at, 0), COALESCE(excluded.written_at, 0)),
          seen_at = excluded.seen_at`,
        [site, agent, JSON.stringify(plan.attrs), name, writtenAt, now],
      ));
      if (plan.modules.length > 0) {
        // One statement per table for the whole file (unnest of arrays). Latest values: the
        // newest per module wins, as row by row.
        const ms = plan.modules;
        const cols = [
          ms.map((m) => m.name),
          ms.map((m) => m.type),
          ms.map((m) => m.data),
          ms.map((m) => m.description),
          ms.map((m) => m.at),
        ];
        writes.push(tx.unsafe(
          `INSERT INTO sync_module_last (site, agent, module, type, data, description, at)
          SELECT DISTINCT ON (module) $1, $2, module, type, data, description, at
          FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[])
            WITH ORDINALITY AS m(module, type, data, description, at, n)
          ORDER BY module, at DESC, n DESC
          ON CONFLICT (site, agent, module) DO UPDATE SET type = excluded.type, data = excluded.data,
            description = excluded.description, at = excluded.at
          WHERE excluded.at >= sync_module_last.at`,
          [site, agent, ...cols],
        ));
        writes.push(tx.unsafe(
          `INSERT INTO sync_module_history (site, agent, module, type, data, at, file)
          SELECT $1, $2, module, type, data, at, $8
          FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[])
            WITH ORDINALITY AS m(module, type, data, description, at, n) ORDER BY n`,
          [site, agent, ...cols, name],
        ));
      }
      const inserted = plan.incidents.map((i) =>
        tx.unsafe(
          `INSERT INTO sync_incidents (site, incident_id, kind, seq, payload, received_at)
          VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING 1`,
          [site, i.incidentId, i.kind, i.seq, i.payload, now],
        )
      );
      writes.push(tx.unsafe(
        `UPDATE sync_sites SET files = files + 1,
        newest_data_at = GREATEST(COALESCE(newest_data_at, 0), $1) WHERE site = $2`,
        [at0, site],
      ));
      const [, counts] = await Promise.all([Promise.all(writes), Promise.all(inserted)]);
      const incidents = counts.reduce((n, r) => n + r.length, 0);
      return { status: "ingested" as const, incidents, modules: plan.modules.length, writtenAt };
    }) as IngestOutcome;
  }

  async queueNotification(site: string, n: Notification, now: number): Promise<boolean> {
    const r = await this.sql.unsafe(
      `INSERT INTO sync_incidents (site, incident_id, kind, seq, payload, received_at)
      VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING 1`,
      [site, n.incidentId, n.kind, noticeSeq(n), JSON.stringify(n), now],
    );
    return r.length > 0;
  }

  #notices(rows: Row[]): PendingNotice[] {
    return rows.map((r) => ({
      key: [r.site as string, r.incident_id as string, r.kind as string, Number(r.seq)],
      notification: JSON.parse(r.payload as string) as Notification,
    }));
  }

  async pendingNotifications(limit = 100): Promise<PendingNotice[]> {
    return this.#notices(
      await this.sql.unsafe(
        `SELECT site, incident_id, kind, seq, payload FROM sync_incidents
        WHERE notified_at IS NULL ORDER BY id LIMIT $1`,
        [limit],
      ),
    );
  }

  async claimNotifications(
    node: string,
    sites: string[] | null,
    limit = 100,
  ): Promise<PendingNotice[]> {
    return await this.sql.begin(async (tx) => {
      await tx.unsafe(
        `UPDATE sync_incidents SET claimed_by = $1 WHERE id IN (SELECT id FROM sync_incidents
        WHERE notified_at IS NULL AND claimed_by IS NULL AND ($2::text[] IS NULL OR site = ANY($2))
        ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED)`,
        [node, sites, limit],
      );
      return this.#notices(
        await tx.unsafe(
          `SELECT site, incident_id, kind, seq, payload FROM sync_incidents
          WHERE notified_at IS NULL AND claimed_by = $1 ORDER BY id LIMIT $2`,
          [node, limit],
        ),
      );
    }) as PendingNotice[];
  }

  async markNotified(key: NoticeKey, now: number): Promise<void> {
    await this.sql.unsafe(
      `UPDATE sync_incidents SET notified_at = $1
      WHERE site = $2 AND incident_id = $3 AND kind = $4 AND seq = $5`,
      [now, ...key],
    );
  }

  async ensureSite(site: string, address: string, now: number): Promise<SiteRow> {
    const r = await this.sql.unsafe(
      `INSERT INTO sync_sites (site, address, first_seen) VALUES ($1, $2, $3)
      ON CONFLICT (site) DO UPDATE SET address = excluded.address RETURNING *`,
      [site, address, now],
    );
    return toSite(r[0]!);
  }

  async site(site: string): Promise<SiteRow | null> {
    const r = await this.sql.unsafe("SELECT * FROM sync_sites WHERE site = $1", [site]);
    return r[0] ? toSite(r[0]) : null;
  }

  async sites(): Promise<SiteRow[]> {
    return (await this.sql.unsafe("SELECT * FROM sync_sites ORDER BY site")).map(toSite);
  }

  async recordAttempt(site: string, now: number, error: string | null): Promise<void> {
    if (error === null) {
      await this.sql.unsafe(
        "UPDATE sync_sites SET last_attempt = $1, last_success = $1 WHERE site = $2",
        [now, site],
      );
    } else {
      await this.sql.unsafe(
        `UPDATE sync_sites SET last_attempt = $1, last_error = $2, last_error_at = $1,
        errors = errors + 1 WHERE site = $3`,
        [now, error, site],
      );
    }
  }

  async setUnreachable(site: string, id: string | null, since: number | null): Promise<void> {
    await this.sql.unsafe(
      "UPDATE sync_sites SET unreachable_id = $1, unreachable_since = $2 WHERE site = $3",
      [id, since, site],
    );
  }

  async prune(
    now: number,
    ledgerMs: number,
    historyMs: number,
  ): Promise<{ files: number; history: number }> {
    const files = await this.sql.unsafe("DELETE FROM sync_files WHERE ingested_at < $1", [
      now - ledgerMs,
    ]);
    await this.sql.unsafe(
      "DELETE FROM sync_incidents WHERE notified_at IS NOT NULL AND notified_at < $1",
      [now - ledgerMs],
    );
    const history = await this.sql.unsafe("DELETE FROM sync_module_history WHERE at < $1", [
      now - historyMs,
    ]);
    return { files: files.count, history: history.count };
  }

  async modules(site: string, agent?: string): Promise<ModuleValue[]> {
    const rows = agent === undefined
      ? await this.sql.unsafe(
        "SELECT * FROM sync_module_last WHERE site = $1 ORDER BY agent, module",
        [site],
      )
      : await this.sql.unsafe(
        "SELECT * FROM sync_module_last WHERE site = $1 AND agent = $2 ORDER BY module",
        [site, agent],
      );
    return rows.map(toModule);
  }

  async history(
    site: string,
    agent: string,
    module: string,
    limit = 100,
  ): Promise<{ data: string; at: number; file: string }[]> {
    const rows = await this.sql.unsafe(
      `SELECT data, at, file FROM sync_module_history WHERE site = $1 AND agent = $2 AND module = $3
      ORDER BY at DESC, id DESC LIMIT $4`,
      [site, agent, module, limit],
    );
    return rows.map((r) => ({
      data: r.data as string,
      at: r.at as number,
      file: r.file as string,
    }));
  }

  async spoolDropped(site: string): Promise<number> {
    const r = await this.sql.unsafe(
      `SELECT SUM(CASE WHEN data ~ '^-?[0-9]+$' THEN data::bigint ELSE 0 END)::bigint AS n
      FROM sync_module_last WHERE site = $1 AND module = $2`,
      [site, DROPPED_MODULE],
    );
    return Number(r[0]?.n ?? 0);
  }

  async acquireLease(
    site: string,
    holder: string,
    ttlMs: number,
    _now: number,
  ): Promise<LeaseGrant> {
    return await this.sql.begin(async (tx) => {
      const now = Number((await tx.unsafe(`SELECT ${NOW_MS} AS now`))[0]!.now);
      const before = await tx.unsafe("SELECT * FROM sync_leases WHERE site = $1 FOR UPDATE", [
        site,
      ]);
      const b = before[0] ? toLease(before[0]) : null;
      if (b && b.holder !== holder && b.expiresAt > now) {
        return { held: false, lease: b, takenFrom: null, expiredFor: null };
      }
      const same = b?.holder === holder;
      const r = await tx.unsafe(
        `INSERT INTO sync_leases (site, holder, since, expires_at, epoch) VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT (site) DO UPDATE SET holder = excluded.holder, since = excluded.since,
          expires_at = excluded.expires_at, epoch = excluded.epoch
        WHERE sync_leases.holder = excluded.holder OR sync_leases.expires_at <= $6
        RETURNING *`,
        [site, holder, same ? b!.since : now, now + ttlMs, (b?.epoch ?? 0) + (same ? 0 : 1), now],
      );
      if (r.length === 0) {
        // Another node inserted the first lease of this site meanwhile (no row to lock before).
        const other = await tx.unsafe("SELECT * FROM sync_leases WHERE site = $1", [site]);
        return {
          held: false,
          lease: other[0] ? toLease(other[0]) : null,
          takenFrom: null,
          expiredFor: null,
        };
      }
      const taken = b && !same ? b : null;
      return {
        held: true,
        lease: toLease(r[0]!),
        takenFrom: taken?.holder ?? null,
        expiredFor: taken ? now - taken.expiresAt : null,
      };
    }) as LeaseGrant;
  }

  async renewLeases(holder: string, ttlMs: number, _now: number): Promise<string[]> {
    const rows = await this.sql.unsafe(
      `UPDATE sync_leases SET expires_at = ${NOW_MS} + $2
      WHERE holder = $1 AND expires_at > ${NOW_MS} RETURNING site`,
      [holder, ttlMs],
    );
    return rows.map((r) => r.site as string);
  }

  async releaseLeases(holder: string): Promise<void> {
    await this.sql.unsafe("DELETE FROM sync_leases WHERE holder = $1", [holder]);
  }

  async releaseLease(site: string, holder: string): Promise<void> {
    await this.sql.unsafe("DELETE FROM sync_leases WHERE site = $1 AND holder = $2", [
      site,
      holder,
    ]);
  }

  async heartbeat(node: string, _now: number): Promise<void> {
    await this.sql.unsafe(
      `INSERT INTO sync_nodes (node, seen_at) VALUES ($1, ${NOW_MS})
      ON CONFLICT (node) DO UPDATE SET seen_at = excluded.seen_at`,
      [node],
    );
  }

  async liveNodes(withinMs: number, _now: number): Promise<string[]> {
    const rows = await this.sql.unsafe(
      `SELECT node FROM sync_nodes WHERE seen_at >= ${NOW_MS} - $1 ORDER BY node`,
      [withinMs],
    );
    return rows.map((r) => r.node as string);
  }

  async leases(): Promise<Lease[]> {
    return (await this.sql.unsafe("SELECT * FROM sync_leases ORDER BY site")).map(toLease);
  }

  async views(_now: number, names?: string[]): Promise<SiteView[]> {
    // The server's clock decides whether a lease still holds, as it does when granting one.
    const [rows, leases, clock] = await Promise.all([
      this.sites(),
      this.leases(),
      this.sql.unsafe(`SELECT ${NOW_MS} AS now`),
    ]);
    const now = Number(clock[0]!.now);
    return siteViews(rows, leases, now, names);
  }

  async close(): Promise<void> {
    if (this.ownsSql) await this.sql.end({ timeout: 5 });
  }
}

function toLease(r: Row): Lease {
  return {
    site: r.site as string,
    holder: r.holder as string,
    since: Number(r.since),
    expiresAt: Number(r.expires_at),
    epoch: Number(r.epoch),
  };
}
