/**
 * The sync puller: every site on its own loop (so a site that is down or slow never delays the
 * others), sessions capped at `parallel` at once and one per site, failed attempts retried with
 * backoff (`sync_retries`), "site unreachable" incidents raised and recovered, and site incidents
 * handed to the notifier exactly once each.
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import type { Logger } from "../log/mod.ts";
import type { Notifier } from "../quorum/types.ts";
import { Limiter } from "../runner/limiter.ts";
import { type Clock, systemClock } from "../schedule/mod.ts";
import type { SiteView } from "../status/types.ts";
import type { TentacleClient, TentacleClientOptions } from "../tentacle/mod.ts";
import { syncBackoff } from "./backoff.ts";
import { decideHealth, unreachableNotification } from "./health.ts";
import { type PullResult, pullSite } from "./session.ts";
import type { SiteConfig, SyncSettings } from "./settings.ts";
import { SyncStore } from "./store.ts";

export interface PullerDeps {
  /** The database of the central store (the node's state database, opened with openDatabase). */
  db: DatabaseSync;
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

export class SyncPuller {
  readonly store: SyncStore;
  readonly #s: SyncSettings;
  readonly #d: PullerDeps;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #limiter: Limiter;
  #pumping: Promise<void> = Promise.resolve();
  #lastPrune = 0;

  constructor(settings: SyncSettings, deps: PullerDeps) {
    this.#s = settings;
    this.#d = deps;
    this.#clock = deps.clock ?? systemClock;
    this.#log = deps.logger.child("sync");
    this.store = new SyncStore(deps.db);
    this.#limiter = new Limiter(settings.parallel);
    const now = this.#clock.now();
    for (const site of settings.sites) this.store.ensureSite(site.name, address(site), now);
  }

  get settings(): SyncSettings {
    return this.#s;
  }

  /** Status of every configured site, for the status page. */
  views(): SiteView[] {
    return this.store.views(this.#clock.now(), this.#s.sites.map((s) => s.name));
  }

  /** One session with `site`, within the parallelism cap; records the outcome and the site's health. */
  async attempt(site: SiteConfig, signal?: AbortSignal): Promise<PullResult> {
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
            signal,
          }),
      );
      if (result.busy) {
        this.#log.debug("another process is pulling this site; skipped", { site: site.name });
        return result;
      }
      this.store.recordAttempt(site.name, this.#clock.now(), null);
      this.#health(site, true, "reached again");
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
      this.store.recordAttempt(site.name, this.#clock.now(), msg);
      this.#health(site, false, msg);
      throw e;
    } finally {
      await this.pump();
    }
  }

  /** Attempts `site` up to 1 + `sync_retries` times with backoff; never throws. */
  async cycle(site: SiteConfig, signal?: AbortSignal): Promise<CycleOutcome> {
    let error: string | null = null;
    for (let attempt = 0; attempt <= this.#s.retries; attempt++) {
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
    await this.pump();
    const out = await Promise.all(this.#s.sites.map((s) => this.cycle(s, signal)));
    this.#maybePrune(true);
    return out;
  }

  /** Runs every site's loop until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    await this.pump();
    this.#maybePrune(true);
    await Promise.all(this.#s.sites.map(async (site) => {
      while (!signal.aborted) {
        const started = this.#clock.now();
        await this.cycle(site, signal);
        this.#maybePrune(false);
        await this.#clock.sleep(
          Math.max(0, this.#s.intervalMs - (this.#clock.now() - started)),
          signal,
        );
      }
    }));
  }

  #health(site: SiteConfig, reached: boolean, detail: string): void {
    const row = this.store.site(site.name);
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
    this.store.queueNotification(site.name, n, now);
    this.store.setUnreachable(
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
        const pending = this.store.pendingNotifications(100);
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
          this.store.markNotified(p.key, this.#clock.now());
        }
      }
    });
    this.#pumping = run.catch(() => {});
    return run;
  }

  #maybePrune(force: boolean): void {
    const now = this.#clock.now();
    if (!force && now - this.#lastPrune < PRUNE_EVERY) return;
    this.#lastPrune = now;
    try {
      const r = this.store.prune(
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

/** `host:port` (IPv6 in brackets), for messages and alerts. */
export function address(site: SiteConfig): string {
  return site.host.includes(":") ? `[${site.host}]:${site.port}` : `${site.host}:${site.port}`;
}
