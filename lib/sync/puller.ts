/**
 * The sync puller: every site on its own loop (so a site that is down or slow never delays the
 * others), sessions capped at `parallel` at once and one per site, failed attempts retried with
 * backoff (`sync_retries`), "site unreachable" incidents raised and recovered, and site incidents
 * handed to the notifier exactly once each.
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import { StoreError } from "../errors/mod.ts";
import type { Logger } from "../log/mod.ts";
import type { Notifier } from "../quorum/types.ts";
import { Limiter } from "../runner/limiter.ts";
import { type Clock, systemClock } from "../schedule/mod.ts";
import type { SiteView } from "../status/types.ts";
import type { TentacleClient, TentacleClientOptions } from "../tentacle/mod.ts";
import { syncBackoff } from "./backoff.ts";
import { leaseStep } from "./balance.ts";
import { decideHealth, unreachableNotification } from "./health.ts";
import { type PullResult, pullSite } from "./session.ts";
import type { SiteConfig, SyncSettings } from "./settings.ts";
import { guardStore, LeaseLostError, type SyncStore } from "./store.ts";
import { SqliteSyncStore } from "./store_sqlite.ts";

export interface PullerDeps {
  /** The central store (SQLite or PostgreSQL); else a SQLite store in `db`. */
  store?: SyncStore;
  /** The database of a SQLite central store (the node's state database, opened with openDatabase). */
  db?: DatabaseSync;
  /** Where site incidents and "site unreachable" go (the node's alerts notifier). */
  notifier: Notifier;
  logger: Logger;
  clock?: Clock;
  /** This node's name (the notifier of "site unreachable"). */
  node?: string;
  /** Randomness for the backoff jitter, in [0, 1). */
  random?: () => number;
  /** How long module history is kept (default 7 days, the node's `history_retention`). */
  historyRetentionMs?: number;
  connect?: (options: TentacleClientOptions) => Promise<TentacleClient>;
}

/** What one cycle (attempts with retries) with a site achieved. */
export interface CycleOutcome {
  site: string;
  ok: boolean;
  attempts: number;
  result: PullResult | null;
  error: string | null;
}

const PRUNE_EVERY = 3_600_000;

/**
 * How long a site's lease lasts: one pull interval, at least 1 s. Its holder renews it every third
 * of that; a node that dies stops renewing, and another node, trying every interval, takes the
 * site over at most one lease plus one interval later: two intervals.
 */
export function leaseMs(intervalMs: number): number {
  return Math.max(1000, intervalMs);
}

/** One site's lease as this node sees it. */
interface Held {
  /** Aborted when the lease is lost (another node took it, or renewals failed for a lease). */
  ctl: AbortController;
  /** Last successful renewal (local clock). */
  renewedAt: number;
}

export class SyncPuller {
  readonly store: SyncStore;
  readonly #s: SyncSettings;
  readonly #d: PullerDeps;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #limiter: Limiter;
  #pumping: Promise<void> = Promise.resolve();
  #lastPrune = 0;
  #ready: Promise<void>;
  readonly #held = new Map<string, Held>();
  /** Sites this node handed over, and when (local clock). */
  readonly #handedOver = new Map<string, number>();
  #views: SiteView[];
  readonly #node: string;
  readonly #leaseMs: number;

  constructor(settings: SyncSettings, deps: PullerDeps) {
    this.#s = settings;
    this.#d = deps;
    this.#clock = deps.clock ?? systemClock;
    this.#log = deps.logger.child("sync");
    if (!deps.store && !deps.db) throw new StoreError("SyncPuller needs a store or a database");
    this.store = guardStore(deps.store ?? new SqliteSyncStore(deps.db!, this.#clock.now()));
    this.#limiter = new Limiter(settings.parallel);
    this.#node = deps.node ?? "central";
    this.#leaseMs = leaseMs(settings.intervalMs);
    this.#views = settings.sites.map((s) => ({
      name: s.name,
      lastPull: null,
      lagMs: null,
      files: 0,
      errors: 0,
      lastError: null,
      drainedBy: null,
    }));
    const now = this.#clock.now();
    const store = this.store;
    this.#ready = (async () => {
      for (const site of settings.sites) await store.ensureSite(site.name, address(site), now);
    })();
    this.#ready.catch(() => {});
  }

  get settings(): SyncSettings {
    return this.#s;
  }

  /** Every site's row exists (the first call to the store is done). */
  ready(): Promise<void> {
    return this.#ready;
  }

  /** Status of every configured site, for the status page (as of the last {@link refreshViews}). */
  views(): SiteView[] {
    return this.#views;
  }

  /** Reads the sites' status from the store (every node's view of every site and its drainer). */
  async refreshViews(): Promise<SiteView[]> {
    this.#views = await this.store.views(this.#clock.now(), this.#s.sites.map((s) => s.name));
    return this.#views;
  }

  /** The sites this node holds the lease of. */
  heldSites(): string[] {
    return [...this.#held.keys()];
  }

  /**
   * Takes or keeps the lease of `site`; logs a takeover. False when another node drains it (this
   * node then only ingests what it has left locally for that site).
   */
  async claim(site: SiteConfig): Promise<boolean> {
    const grant = await this.store.acquireLease(
      site.name,
      this.#node,
      this.#leaseMs,
      this.#clock.now(),
    );
    if (!grant.held) {
      this.#drop(site.name);
      return false;
    }
    if (!this.#held.has(site.name)) {
      this.#held.set(site.name, { ctl: new AbortController(), renewedAt: this.#clock.now() });
      if (grant.takenFrom !== null) {
        this.#log.info("took over site", {
          site: site.name,
          from: grant.takenFrom,
          expired_ms: grant.expiredFor,
          lease_ms: this.#leaseMs,
        });
      } else this.#log.info("draining site", { site: site.name, lease_ms: this.#leaseMs });
    } else this.#held.get(site.name)!.renewedAt = this.#clock.now();
    return true;
  }

  /**
   * Releases `site` when this node holds more than its share and another live node has room
   * (lib/sync/balance.ts); true when it did.
   */
  async #handOver(site: SiteConfig): Promise<boolean> {
    const now = this.#clock.now();
    const [live, leases] = await Promise.all([
      this.store.liveNodes(3 * this.#leaseMs, now),
      this.store.leases(),
    ]);
    const held = new Map<string, number>();
    for (const l of leases) {
      if (live.includes(l.holder)) held.set(l.holder, (held.get(l.holder) ?? 0) + 1);
    }
    held.set(this.#node, this.#held.size);
    const step = leaseStep({
      mine: true,
      me: this.#node,
      sites: this.#s.sites.length,
      live,
      held,
    });
    if (step !== "release") return false;
    await this.store.releaseLease(site.name, this.#node);
    this.#handedOver.set(site.name, this.#clock.now());
    const h = this.#held.get(site.name);
    this.#held.delete(site.name);
    h?.ctl.abort();
    this.#log.info("handed site over (more than this node's share)", {
      site: site.name,
      holds: held.get(this.#node),
      live: live.length,
    });
    return true;
  }

  #drop(site: string): void {
    const h = this.#held.get(site);
    if (!h) return;
    this.#held.delete(site);
    h.ctl.abort();
    this.#log.warn("lost the lease of site; another node drains it", { site });
  }

  /** Renews this node's leases; drops (and aborts the sessions of) those lost. */
  async renew(): Promise<void> {
    const now = this.#clock.now();
    try {
      const kept = new Set(await this.store.renewLeases(this.#node, this.#leaseMs, now));
      for (const [site, h] of this.#held) {
        if (kept.has(site)) h.renewedAt = this.#clock.now();
        else this.#drop(site);
      }
    } catch (e) {
      // The store is out of reach: a lease not renewed for its length may be another node's now.
      for (const [site, h] of this.#held) if (now - h.renewedAt >= this.#leaseMs) this.#drop(site);
      this.#log.warn("cannot renew site leases", { error: (e as Error).message });
    }
  }

  /** One session with `site`, within the parallelism cap; records the outcome and the site's health. */
  async attempt(site: SiteConfig, signal?: AbortSignal): Promise<PullResult> {
    const held = this.#held.get(site.name);
    const sig = held
      ? (signal ? AbortSignal.any([signal, held.ctl.signal]) : held.ctl.signal)
      : signal;
    try {
      const result = await this.#limiter.run(
        site.name,
        () =>
          pullSite(site, {
            store: this.store,
            settings: this.#s,
            log: this.#log,
            clock: this.#clock,
            connect: this.#d.connect,
            signal: sig,
            fence: held ? { holder: this.#node, ttlMs: this.#leaseMs } : undefined,
          }),
      );
      if (result.busy) {
        this.#log.debug("another process is pulling this site; skipped", { site: site.name });
        return result;
      }
      await this.store.recordAttempt(site.name, this.#clock.now(), null);
      await this.#health(site, true, "reached again");
      if (result.listed > 0 || result.ingested > 0 || result.push === "pushed") {
        this.#log.info("pulled site", {
          site: site.name,
          listed: result.listed,
          ingested: result.ingested,
          duplicates: result.duplicates,
          rejected: result.rejected,
          kept: result.failed,
          mode: result.safe ? "safe-move" : "mv",
          push: result.push,
        });
      }
      return result;
    } catch (e) {
      const msg = (e as Error).message;
      if (!isLeaseOrStore(e) && !held?.ctl.signal.aborted) {
        // A failure of the site, not of this node's lease or the store.
        await this.store.recordAttempt(site.name, this.#clock.now(), msg).catch(() => {});
        await this.#health(site, false, msg).catch(() => {});
      }
      throw e;
    } finally {
      await this.pump().catch(() => {});
    }
  }

  /**
   * One cycle of `site` on a shared store: with its lease, attempts with retries; without, only
   * ingests what this node left locally for it. Never throws.
   */
  async turn(site: SiteConfig, signal?: AbortSignal): Promise<CycleOutcome> {
    let mine: boolean;
    try {
      const handed = this.#handedOver.get(site.name);
      if (this.#held.has(site.name) && (await this.#handOver(site))) mine = false;
      else if (handed !== undefined && this.#clock.now() - handed < this.#leaseMs) {
        // Just handed over: leave it to a node with room for a lease; take it back after
        // that if none did.
        mine = false;
      } else {
        this.#handedOver.delete(site.name);
        mine = await this.claim(site);
      }
    } catch (e) {
      const error = (e as Error).message;
      this.#log.warn("cannot reach the store for the site's lease", { site: site.name, error });
      return { site: site.name, ok: false, attempts: 0, result: null, error };
    }
    if (mine) return await this.cycle(site, signal);
    try {
      await this.#limiter.run(site.name, () =>
        pullSite(site, {
          store: this.store,
          settings: this.#s,
          log: this.#log,
          clock: this.#clock,
          leftoversOnly: true,
        }));
    } catch (e) {
      this.#log.warn("cannot ingest leftovers of a site another node drains", {
        site: site.name,
        error: (e as Error).message,
      });
    }
    return { site: site.name, ok: true, attempts: 0, result: null, error: null };
  }

  /** Attempts `site` up to 1 + `sync_retries` times with backoff; never throws. */
  async cycle(site: SiteConfig, signal?: AbortSignal): Promise<CycleOutcome> {
    let error: string | null = null;
    // Started under the site's lease: a retry after losing it would drain another node's site.
    const leased = this.#held.has(site.name);
    for (let attempt = 0; attempt <= this.#s.retries; attempt++) {
      if (leased && !this.#held.has(site.name)) break;
      if (attempt > 0) {
        const wait = syncBackoff(attempt, {
          baseMs: this.#s.backoffBaseMs,
          maxMs: this.#s.backoffMaxMs,
        }, (this.#d.random ?? Math.random)());
        await this.#clock.sleep(wait, signal);
      }
      if (signal?.aborted) break;
      try {
        const result = await this.attempt(site, signal);
        return { site: site.name, ok: true, attempts: attempt + 1, result, error: null };
      } catch (e) {
        error = (e as Error).message;
        if (e instanceof LeaseLostError) {
          this.#drop(site.name);
          break;
        }
        this.#log.warn("cannot pull site", {
          site: site.name,
          attempt: attempt + 1,
          of: this.#s.retries + 1,
          error,
        });
      }
    }
    return { site: site.name, ok: false, attempts: this.#s.retries + 1, result: null, error };
  }

  /** Every site once (in parallel up to the cap), then pending notifications and pruning. */
  async runOnce(signal?: AbortSignal): Promise<CycleOutcome[]> {
    await this.#ready;
    await this.pump().catch(() => {});
    const out = await Promise.all(this.#s.sites.map((s) => this.turn(s, signal)));
    await this.#maybePrune(true);
    await this.refreshViews().catch(() => {});
    return out;
  }

  /**
   * Runs every site's loop until `signal` aborts, with the lease keeper (renewals every third of
   * a lease) and the status refresher (every second). On a clean stop the leases are given up, so
   * other nodes take the sites over at once.
   */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        await this.#ready;
        break;
      } catch (e) {
        this.#log.warn("cannot reach the store; retrying", { error: (e as Error).message });
        await this.#clock.sleep(1000, signal);
        const now = this.#clock.now();
        this.#ready = (async () => {
          for (const s of this.#s.sites) await this.store.ensureSite(s.name, address(s), now);
        })();
      }
    }
    await this.pump().catch(() => {});
    await this.#maybePrune(true);
    const every = (ms: number, fn: () => Promise<unknown>) =>
      (async () => {
        while (!signal.aborted) {
          await this.#clock.sleep(ms, signal);
          if (!signal.aborted) await fn().catch(() => {});
        }
      })();
    await this.store.heartbeat(this.#node, this.#clock.now()).catch(() => {});
    const keeper = every(Math.max(100, Math.floor(this.#leaseMs / 3)), async () => {
      await this.store.heartbeat(this.#node, this.#clock.now()).catch(() => {});
      await this.renew();
    });
    const refresher = every(1000, async () => {
      await this.refreshViews();
      await this.pump();
    });
    await Promise.all(this.#s.sites.map(async (site) => {
      while (!signal.aborted) {
        const started = this.#clock.now();
        await this.turn(site, signal);
        await this.#maybePrune(false);
        await this.refreshViews().catch(() => {});
        await this.#clock.sleep(
          Math.max(0, this.#s.intervalMs - (this.#clock.now() - started)),
          signal,
        );
      }
    }));
    await Promise.all([keeper, refresher]);
    await this.store.releaseLeases(this.#node).catch(() => {});
    this.#held.clear();
  }

  async #health(site: SiteConfig, reached: boolean, detail: string): Promise<void> {
    const row = await this.store.site(site.name);
    if (!row) return;
    const now = this.#clock.now();
    const action = decideHealth(
      site.name,
      {
        lastSuccess: row.lastSuccess,
        firstSeen: row.firstSeen,
        unreachable: row.unreachableId && row.unreachableSince !== null
          ? { id: row.unreachableId, since: row.unreachableSince }
          : null,
      },
      reached,
      now,
      this.#s.unreachableAfterMs,
    );
    if (action.action === "none") return;
    const n = unreachableNotification({
      site: site.name,
      address: address(site),
      kind: action.action,
      id: action.id,
      since: action.since,
      now,
      node: this.#d.node ?? "central",
      detail: action.action === "down"
        ? `site not reached since ${new Date(action.since).toISOString()}: ${detail}`
        : "site reached again",
    });
    await this.store.queueNotification(site.name, n, now);
    await this.store.setUnreachable(
      site.name,
      action.action === "down" ? action.id : null,
      action.action === "down" ? action.since : null,
    );
    if (action.action === "down") {
      this.#log.error("site unreachable", {
        site: site.name,
        since: new Date(action.since).toISOString(),
        error: detail,
      });
    } else this.#log.info("site reachable again", { site: site.name });
  }

  /** Hands every pending notification to the notifier, in order; each is marked once accepted. */
  pump(): Promise<void> {
    const run = this.#pumping.then(async () => {
      for (;;) {
        // On a shared store a node hands on only what it claimed (for the sites it drains), so
        // each notification reaches one node's notifier; with SQLite there is one node.
        const pending = await this.store.claimNotifications(
          this.#node,
          this.store.kind === "sqlite" ? null : this.heldSites(),
          100,
        );
        if (pending.length === 0) return;
        for (const p of pending) {
          try {
            await this.#d.notifier.notify(p.notification);
          } catch (e) {
            this.#log.error("notifier did not accept a site notification; will retry", {
              notification: p.notification.id,
              error: (e as Error).message,
            });
            return;
          }
          await this.store.markNotified(p.key, this.#clock.now());
        }
      }
    });
    this.#pumping = run.catch(() => {});
    return run;
  }

  async #maybePrune(force: boolean): Promise<void> {
    const now = this.#clock.now();
    if (!force && now - this.#lastPrune < PRUNE_EVERY) return;
    this.#lastPrune = now;
    try {
      const r = await this.store.prune(
        now,
        this.#s.ledgerRetentionMs,
        this.#d.historyRetentionMs ?? 7 * 86_400_000,
      );
      if (r.files + r.history > 0) this.#log.debug("pruned sync store", r);
    } catch (e) {
      this.#log.error("cannot prune the sync store", { error: (e as Error).message });
    }
  }
}

/** A failure of this node's lease or of the store, not of the site. */
function isLeaseOrStore(e: unknown): boolean {
  let x: unknown = e;
  for (let i = 0; i < 4 && x instanceof Error; i++) {
    if (x instanceof LeaseLostError || x instanceof StoreError) return true;
    x = x.cause;
  }
  return false;
}

/** `host:port` (IPv6 in brackets), for messages and alerts. */
export function address(site: SiteConfig): string {
  return site.host.includes(":") ? `[${site.host}]:${site.port}` : `${site.host}:${site.port}`;
}
