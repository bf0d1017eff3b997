/**
 * The central store of pulled site data, one interface for both back ends: SQLite in the node's
 * own database (store_sqlite.ts, the embedded default) and PostgreSQL shared by several central
 * nodes (store_pg.ts). Per site and agent, each module's latest value and its history; a ledger
 * of ingested files keyed by site + file name + SHA-256 (a re-delivered file is recognised and
 * never ingested twice); site incidents keyed by site + incident id + kind (+ reminder number),
 * each claimed by one node and notified once; per-site pull status; and per-site leases (which
 * node drains the site).
 *
 * Ingesting a file is one transaction: ledger row, agent, modules, incidents, site counters, and
 * (when fenced) the check that this node still holds the site's lease. The caller deletes its
 * local copy only after that commits; a crash in between leaves a file whose ledger row already
 * exists, which the next run just deletes.
 * @module
 */
import { StoreError } from "../errors/mod.ts";
import type { Notification } from "../quorum/types.ts";
import type { SiteView } from "../status/types.ts";
import { AgentDataError, parseAgentData } from "./agent_parse.ts";
import {
  centralNotification,
  noticeSeq,
  parsePandoraTime,
  readIncidentsModule,
} from "./incidents.ts";
import { INCIDENTS_MODULE } from "../spool/agent_xml.ts";

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

/** Key of a site notification: site, incident id, kind, reminder number. */
export type NoticeKey = [string, string, string, number];

export interface PendingNotice {
  key: NoticeKey;
  notification: Notification;
}

/** Who drains a site. */
export interface Lease {
  site: string;
  holder: string;
  /** When this holder took it (epoch ms, the store's clock). */
  since: number;
  expiresAt: number;
  /** Bumped at every change of holder. */
  epoch: number;
}

/** What asking for a site's lease gave. */
export interface LeaseGrant {
  /** True when `holder` now holds it (newly or still). */
  held: boolean;
  lease: Lease | null;
  /** The previous holder when this call took the lease over from another node, else null. */
  takenFrom: string | null;
  /** How long the previous holder's lease had been expired when taken over, ms. */
  expiredFor: number | null;
}

/** Thrown by a fenced ingest when this node no longer holds the site's lease. */
export class LeaseLostError extends Error {
  override name = "LeaseLostError";
  constructor(readonly site: string, readonly holder: string) {
    super(`Lost the lease of site ${site} (${holder} no longer drains it)`);
  }
}

/** A module's latest value, as `modules()` returns it. */
export interface ModuleValue {
  agent: string;
  module: string;
  type: string;
  data: string;
  description: string | null;
  at: number;
}

/** The central store; every method is one round trip or one transaction. */
export interface SyncStore {
  readonly kind: "sqlite" | "postgresql";
  /** True when this exact file (site, name, content) was ingested or rejected before. */
  known(site: string, name: string, sha256: string): Promise<boolean>;
  /**
   * Ingests one complete file in one transaction (see the module comment). With `fence`, the
   * transaction also renews the site's lease held by `fence.holder` for `fence.ttlMs`, and throws
   * LeaseLostError (writing nothing) when another node holds it.
   */
  ingest(
    site: string,
    name: string,
    bytes: Uint8Array,
    sha256: string,
    now: number,
    fence?: { holder: string; ttlMs: number },
  ): Promise<IngestOutcome>;
  /** Queues a notification raised centrally (site unreachable); false when already queued. */
  queueNotification(site: string, n: Notification, now: number): Promise<boolean>;
  /** Notifications not yet accepted by a notifier, in arrival order (claimed or not). */
  pendingNotifications(limit?: number): Promise<PendingNotice[]>;
  /**
   * The notifications `node` is to hand to its notifier, in arrival order: those it claimed
   * before and has not marked (it crashed in between: same ids, the outbox absorbs a repeat), and
   * unclaimed ones of `sites` (null: every site), claimed now for `node` so no other node takes
   * them.
   */
  claimNotifications(
    node: string,
    sites: string[] | null,
    limit?: number,
  ): Promise<PendingNotice[]>;
  markNotified(key: NoticeKey, now: number): Promise<void>;
  /** Makes sure a site has a status row (its first-seen time starts the unreachable clock). */
  ensureSite(site: string, address: string, now: number): Promise<SiteRow>;
  site(site: string): Promise<SiteRow | null>;
  sites(): Promise<SiteRow[]>;
  /** Records the outcome of one pull attempt. */
  recordAttempt(site: string, now: number, error: string | null): Promise<void>;
  setUnreachable(site: string, id: string | null, since: number | null): Promise<void>;
  /** Deletes ledger rows, notified incidents and module history past their retention. */
  prune(
    now: number,
    ledgerMs: number,
    historyMs: number,
  ): Promise<{ files: number; history: number }>;
  /** Latest value of every module of a site (optionally one agent). */
  modules(site: string, agent?: string): Promise<ModuleValue[]>;
  /** Values of one module over time, newest first. */
  history(
    site: string,
    agent: string,
    module: string,
    limit?: number,
  ): Promise<{ data: string; at: number; file: string }[]>;
  /** Files each site reported dropped from its spool (sum of the latest counter per agent). */
  spoolDropped(site: string): Promise<number>;
  /**
   * Takes or keeps the lease of `site` for `holder`: granted when free, expired, or already
   * `holder`'s (then renewed). Times are the store's clock (PostgreSQL's, or `now` for SQLite).
   */
  acquireLease(site: string, holder: string, ttlMs: number, now: number): Promise<LeaseGrant>;
  /** Renews every lease `holder` holds; returns their sites. */
  renewLeases(holder: string, ttlMs: number, now: number): Promise<string[]>;
  /** Gives every lease of `holder` up (a clean stop), so other nodes take over at once. */
  releaseLeases(holder: string): Promise<void>;
  /** Gives one site's lease up (handing it to a node with room). */
  releaseLease(site: string, holder: string): Promise<void>;
  /** Records that `node` is alive now (the store's clock). */
  heartbeat(node: string, now: number): Promise<void>;
  /** Nodes whose heartbeat is at most `withinMs` old. */
  liveNodes(withinMs: number, now: number): Promise<string[]>;
  leases(): Promise<Lease[]>;
  /** The status page's view of the sites (`names` first, in that order, then any others). */
  views(now: number, names?: string[]): Promise<SiteView[]>;
  close(): Promise<void>;
}

/** What one file adds to the store, decided before any write (pure). */
export type IngestPlan =
  | { ok: false; error: string }
  | {
    ok: true;
    agent: string;
    attrs: Record<string, string>;
    writtenAt: number | null;
    /** Time of the file (written at, else `now`): the site's newest data. */
    at0: number;
    modules: {
      name: string;
      type: string;
      data: string;
      description: string | null;
      at: number;
    }[];
    incidents: { incidentId: string; kind: string; seq: number; payload: string }[];
  };

/** Parses a data file into what ingesting it writes; rejected when it is not complete agent data. */
export function planIngest(site: string, bytes: Uint8Array, now: number): IngestPlan {
  let parsed;
  try {
    parsed = parseAgentData(bytes);
  } catch (e) {
    if (!(e instanceof AgentDataError)) throw e;
    return { ok: false, error: e.message };
  }
  const dm = Number(parsed.attrs.dmonitor_time);
  const writtenAt = Number.isSafeInteger(dm) && dm > 0
    ? dm
    : parsePandoraTime(parsed.attrs.timestamp);
  const at0 = writtenAt ?? now;
  const incidents: { incidentId: string; kind: string; seq: number; payload: string }[] = [];
  const modules = parsed.modules.map((m) => {
    const ran = Number(m.extra.dmonitor_at);
    const at = Number.isSafeInteger(ran) && ran > 0 ? ran : at0;
    if (m.name === INCIDENTS_MODULE && m.type === "async_string") {
      for (const n of readIncidentsModule(m.data)) {
        const c = centralNotification(site, n);
        incidents.push({
          incidentId: c.incidentId,
          kind: c.kind,
          seq: noticeSeq(n),
          payload: JSON.stringify(c),
        });
      }
    }
    return { name: m.name, type: m.type, data: m.data, description: m.description, at };
  });
  return {
    ok: true,
    agent: parsed.attrs.agent_name!,
    attrs: parsed.attrs,
    writtenAt,
    at0,
    modules,
    incidents,
  };
}

/** The status view of sites from rows and leases (`names` first, in that order, then others). */
export function siteViews(
  rows: SiteRow[],
  leases: Lease[],
  now: number,
  names?: string[],
): SiteView[] {
  const byName = new Map(rows.map((r) => [r.site, r]));
  const held = new Map(leases.map((l) => [l.site, l]));
  const order = [...(names ?? []), ...[...byName.keys()].filter((n) => !names?.includes(n))];
  return order.map((name) => {
    const r = byName.get(name);
    const l = held.get(name);
    return {
      name,
      lastPull: r?.lastSuccess ?? null,
      lagMs: r?.newestDataAt ? Math.max(0, now - r.newestDataAt) : null,
      files: r?.files ?? 0,
      errors: r?.errors ?? 0,
      lastError: r?.lastError ?? null,
      drainedBy: l && l.expiresAt > now ? l.holder : null,
    };
  });
}

/**
 * The same store, with every failure of the store itself (database down, connection lost, a
 * constraint) thrown as StoreError naming the call, so callers tell it from a site's failure.
 * LeaseLostError passes through as it is.
 */
export function guardStore(store: SyncStore): SyncStore {
  return new Proxy(store, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver);
      if (typeof v !== "function" || prop === "constructor") return v;
      return (...args: unknown[]) => {
        const wrap = (e: unknown) => {
          if (e instanceof LeaseLostError || e instanceof StoreError) throw e;
          throw new StoreError(
            `The ${target.kind} store failed (${String(prop)}): ${(e as Error).message}`,
            { cause: e },
          );
        };
        try {
          const out = v.apply(target, args);
          return out instanceof Promise ? out.catch(wrap) : out;
        } catch (e) {
          return wrap(e);
        }
      };
    },
  });
}
