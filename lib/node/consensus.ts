/**
 * Wires the consensus part into a running node: the incident engine (fed with every scheduled
 * result), its persistence in SQLite, the authenticated peer endpoint's callbacks, and degraded
 * mode. The decisions live in lib/quorum; this file only connects them to the node's state.
 * @module
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";
import type { Config, TestConfig } from "../config/types.ts";
import type { Logger } from "../log/mod.ts";
import {
  defaultTiming,
  IncidentEngine,
  isDegraded,
  settleFor,
  viewDeadlineFor,
} from "../quorum/mod.ts";
import { lingerFor } from "../quorum/batch.ts";
import type { AskFn } from "../quorum/engine.ts";
import { METRICS } from "../metrics/mod.ts";
import type { IncidentState, LocalAnswer, Notifier } from "../quorum/types.ts";
import type { PeerHealth } from "../quorum/health.ts";
import {
  type Beat,
  createPeerRpc,
  type PeerAppDeps,
  peerLabel,
  type PeerRpc,
} from "../peers/mod.ts";
import { type Clock, nextTurn, systemClock } from "../clock/mod.ts";
import { releaseMemory } from "./memory.ts";
import type { CheckResult } from "../runner/result.ts";
import { type StateStore, transaction } from "../store/mod.ts";
import type { Executor } from "./execute.ts";
import { ResultLog } from "./results.ts";

const SCHEMA = `CREATE TABLE IF NOT EXISTS incident_state (
  host TEXT NOT NULL, test TEXT NOT NULL, state TEXT NOT NULL, PRIMARY KEY (host, test)
) WITHOUT ROWID`;

/** Most incident states written in one transaction (a bounded piece of synchronous work: their
 * JSON and the writes take a few ms). */
const SAVE_CHUNK = 100;

/**
 * Removes and returns the oldest `n` entries of a Map or Set (insertion order), without copying
 * the rest: a backlog of thousands taken a chunk at a time stays linear.
 */
function takeFirst<K, V>(m: Map<K, V>, n: number): [K, V][];
function takeFirst<K>(m: Set<K>, n: number): K[];
function takeFirst<K, V>(m: Map<K, V> | Set<K>, n: number): ([K, V] | K)[] {
  const out: ([K, V] | K)[] = [];
  for (const e of m instanceof Map ? m.entries() : m.values()) {
    if (out.length >= n) break;
    out.push(e);
  }
  for (const e of out) m.delete(m instanceof Map ? (e as [K, V])[0] : e as K);
  return out;
}

/** Runs `fn` on a turn of the event loop of its own, once however often asked before it runs
 * (it may ask again itself, for the next turn). */
class TurnTask {
  #asked = false;
  constructor(readonly fn: () => void) {}
  ask(): void {
    if (this.#asked) return;
    this.#asked = true;
    setTimeout(() => {
      this.#asked = false;
      this.fn();
    }, 0);
  }
}

/**
 * Incident states as JSON rows; every change is committed before a notification goes out. Saves
 * made in the same turn of the event loop share one transaction (a mass failure saves thousands
 * of incidents within moments); each save's promise resolves once its state is committed.
 */
export class IncidentStore {
  /** Prepared once: a mass failure saves every incident several times a round. */
  readonly #save: StatementSync;
  /** States waiting for the next commit, by host+test (a newer save replaces an older one). */
  #pending = new Map<string, { s: IncidentState; done: PromiseWithResolvers<void>[] }>();
  readonly #commits = new TurnTask(() => this.#commit());

  constructor(readonly db: DatabaseSync) {
    db.exec(SCHEMA);
    this.#save = db.prepare(
      "INSERT OR REPLACE INTO incident_state (host, test, state) VALUES (?, ?, ?)",
    );
  }

  /** Resolves once `s` (or a newer state of the same host+test) is committed. */
  save(s: IncidentState): Promise<void> {
    const k = `${s.host}\0${s.test}`;
    this.#deleting.delete(k);
    const done = Promise.withResolvers<void>();
    const p = this.#pending.get(k);
    this.#pending.delete(k);
    this.#pending.set(k, { s, done: [...(p?.done ?? []), done] });
    this.#commits.ask();
    return done.promise;
  }

  /** Commits what is waiting, SAVE_CHUNK states per transaction, yielding in between. */
  #commit(): void {
    if (!this.db.isOpen) {
      const e = new Error("cannot save incident states: the state database is closed");
      for (const { done } of this.#pending.values()) for (const d of done) d.reject(e);
      this.#pending.clear();
      return;
    }
    const chunk = takeFirst(this.#pending, SAVE_CHUNK);
    try {
      transaction(this.db, () => {
        for (const [, { s }] of chunk) this.#save.run(s.host, s.test, JSON.stringify(s));
      });
      for (const [, { done }] of chunk) for (const d of done) d.resolve();
    } catch (e) {
      for (const [, { done }] of chunk) for (const d of done) d.reject(e);
    }
    if (this.#pending.size > 0) this.#commits.ask();
  }

  /**
   * Deletes the rows of these host/tests (forgotten by the engine), SAVE_CHUNK per transaction on
   * turns of their own: forgetting a mass outage's thousands of states holds the event loop for
   * no longer than one chunk. A save of a host/test still waiting here cancels its deletion.
   */
  delete(keys: readonly { host: string; test: string }[]): void {
    for (const k of keys) this.#deleting.add(`${k.host}\0${k.test}`);
    if (this.#deleting.size > 0) this.#deletes.ask();
  }

  /** Told when deleting forgotten rows failed (default: stderr); the node logs it. */
  onDeleteError: (e: Error) => void = (e) =>
    console.error(`cannot delete forgotten incident states: ${e.message}`);
  #deleting = new Set<string>();
  readonly #deletes = new TurnTask(() => this.#deleteChunk());
  #del: StatementSync | undefined;

  #deleteChunk(): void {
    if (!this.db.isOpen) return this.#deleting.clear();
    const chunk = takeFirst(this.#deleting, SAVE_CHUNK);
    this.#del ??= this.db.prepare("DELETE FROM incident_state WHERE host = ? AND test = ?");
    const del = this.#del;
    try {
      transaction(this.db, () => {
        for (const k of chunk) {
          const [host, test] = k.split("\0") as [string, string];
          del.run(host, test);
        }
      });
    } catch (e) {
      // A row left behind is a closed incident: restored as a quiet state, forgotten again.
      this.onDeleteError(e as Error);
    }
    if (this.#deleting.size > 0) this.#deletes.ask();
  }

  /** The persisted state of one host+test, or null (a save still waiting is committed first). */
  get(host: string, test: string): IncidentState | null {
    if (this.#pending.has(`${host}\0${test}`)) {
      while (this.#pending.size > 0) this.#commit();
    }
    this.#get ??= this.db.prepare("SELECT state FROM incident_state WHERE host = ? AND test = ?");
    const row = this.#get.get(host, test) as { state: string } | undefined;
    return row ? JSON.parse(row.state) as IncidentState : null;
  }
  #get: StatementSync | null = null;

  /** Every persisted state (saves still waiting are committed first). */
  all(): IncidentState[] {
    while (this.#pending.size > 0) this.#commit();
    return (this.db.prepare("SELECT state FROM incident_state").all() as { state: string }[])
      .map((r) => JSON.parse(r.state) as IncidentState);
  }
}

export interface ConsensusDeps {
  config: () => Config;
  store: StateStore;
  execute: Executor;
  notifier: Notifier;
  logger: Logger;
  /** Peer TLS: use https towards peers, with this client (private CA). */
  peerTls?: { client?: Deno.HttpClient };
  /** Time (default: the system clock). */
  clock?: Clock;
  /** Where confirm runs are recorded and logged (shared with the Node's scheduled runs). */
  results?: ResultLog;
  /** Every heartbeat round's answers (configuration agreement reads the peers' digests). */
  onBeats?: (beats: Beat[]) => void;
  /** Failed contacts per peer label (heartbeats and requests); owned by the caller so the counts
   * survive a reload that rebuilds the consensus part. */
  peerErrors?: Map<string, number>;
}

/** Counts every peer answer in the metrics, by peer and result; failures also in `errors`. */
function countedAsk(ask: AskFn, errors: Map<string, number>): AskFn {
  return async (host, test, mode, since, deadlineMs) => {
    const answers = await ask(host, test, mode, since, deadlineMs);
    for (const a of answers) {
      const failed = a.vote.status === "UNREACHABLE";
      METRICS.peerRequests.inc({ peer: a.peer, result: failed ? "error" : "ok" });
      if (failed) errors.set(a.peer, (errors.get(a.peer) ?? 0) + 1);
    }
    return answers;
  };
}

/** Largest check timeout in the tree: peers must be given time to run any of them. */
export function maxTimeout(config: Config): number {
  return Math.max(config.settings.timeout, ...config.tests.map((t) => t.timeout));
}

/** How long a quiet host+test's state is kept (see the engine's `forgetAfterMs`): the time after
 * which a peer that cannot reach this node goes ahead without it, plus two of the longest check
 * intervals (a reachable peer with the incident still open asks in its next round). */
export function forgetAfterFor(timing: { stuckMs?: number; handoverMs: number }, config: Config) {
  let longest = config.settings.interval;
  for (const t of config.tests) longest = Math.max(longest, t.interval);
  return (timing.stuckMs ?? 5 * timing.handoverMs) + 2 * longest;
}

/** Forgetting this many states means a big outage ended: its memory is given back. */
export const RELEASE_AFTER_FORGETTING = 100;

/**
 * Whether to give the memory of the states forgotten since the last release back now: a big
 * outage ended (at least {@link RELEASE_AFTER_FORGETTING} forgotten) and most of what the engine
 * held is gone (no more states left than were forgotten). Each release is a full GC whose pause
 * grows with what is still live: a 10,000-check outage is forgotten over several sweeps, and a
 * release at each of them (seven per node, measured) held a node 100-560 ms each while thousands
 * of states were still live; now it waits for the bulk and releases once or twice.
 */
export function releaseDue(forgotten: number, remaining: number): boolean {
  return forgotten >= RELEASE_AFTER_FORGETTING && remaining <= forgotten;
}

/** How often every peer is pinged, so each node knows within a few seconds whom it can reach. */
export const HEARTBEAT_MS = 2_000;

/** While degraded, one round in this period still asks the peers, to learn they are back. */
export const DEGRADED_PROBE_MS = 30_000;

export class Consensus {
  readonly engine: IncidentEngine;
  #probeAt = -Infinity;
  #probing = false;
  readonly #deps: ConsensusDeps;
  readonly #incidents: IncidentStore;
  readonly #clock: Clock;
  readonly #results: ResultLog;
  readonly rpc: PeerRpc | null;
  /** What the heartbeat knows of each peer (address -> health). */
  #beats = new Map<string, PeerHealth>();
  readonly #errors: Map<string, number>;
  readonly #stop = new AbortController();

  constructor(deps: ConsensusDeps) {
    this.#deps = deps;
    this.#clock = deps.clock ?? systemClock;
    this.#results = deps.results ?? new ResultLog(deps.store, deps.logger);
    this.#errors = deps.peerErrors ?? new Map();
    const config = deps.config();
    const log = deps.logger;
    this.#incidents = new IncidentStore(deps.store.db);
    this.#incidents.onDeleteError = (e) =>
      log.error("deleting forgotten incident states failed; they are forgotten again later", {
        error: e.message,
      });
    const interval = config.settings.interval;
    const timing = defaultTiming({
      timeout: maxTimeout(config),
      interval: config.settings.interval,
      remind: config.settings.remind,
    });
    const rpc = config.peers.length === 0 || config.peerKey === null
      ? null
      : createPeerRpc(config.peers, {
        key: config.peerKey,
        nodeName: config.settings.node,
        confirmDeadlineMs: timing.confirmDeadlineMs,
        viewDeadlineMs: () =>
          viewDeadlineFor(timing.viewDeadlineMs, this.rpc?.rtt().values() ?? []),
        log,
        clock: this.#clock,
        lingerMs: lingerFor(interval),
        gone: (label) => this.#gone(label),
        ...(deps.peerTls ? { tls: true, client: deps.peerTls.client } : {}),
      });
    this.rpc = rpc;
    this.engine = new IncidentEngine({
      self: config.settings.node,
      peers: config.peers.map(peerLabel),
      rule: config.settings.quorum,
      timing,
      ask: rpc ? countedAsk(rpc.ask, this.#errors) : () => Promise.resolve([]),
      ...(rpc ? { announce: rpc.announce } : {}),
      notifier: deps.notifier,
      log,
      clock: this.#clock,
      save: (s) => this.#incidents.save(s),
      degraded: () => !this.#probing && this.degraded(),
      // A closed incident is remembered until every peer has learnt of it (reachable ones in
      // their next round, about an interval; unreachable ones go ahead without it after
      // stuckMs), then forgotten with its row: memory per incident is returned when it ends.
      forgetAfterMs: forgetAfterFor(timing, config),
      forget: (keys) => {
        this.#incidents.delete(keys);
        this.#forgotten += keys.length;
        if (releaseDue(this.#forgotten, this.engine.size)) {
          this.#release(this.#forgotten);
          this.#forgotten = 0;
        }
      },
      // A peer answering its heartbeat is alive, however slow its batch answers are; one whose
      // heartbeat has failed since before the round is silent since then.
      beat: (peer) => this.#beats.get(peer) ?? null,
      // Each claim's settle time from the round trips measured now (heartbeats, views): no need
      // to agree on one, since a claim says its own (lib/quorum election.ts).
      settle: () => settleFor(timing.settleMs, this.rpc?.rtt().values() ?? [], lingerFor(interval)),
    });
    this.engine.restore(this.#incidents.all());
    if (rpc) {
      this.#heartbeat(rpc).catch((e) => log.error("heartbeat stopped", { error: String(e) }));
    }
  }

  /**
   * Why a peer is not worth waiting for in a round: its heartbeat has failed for two periods and
   * no round has heard from it since. Null while it may answer. (Its silence still counts in the
   * election from when it began; see lib/quorum withProofOfLife.)
   */
  #gone(label: string): string | null {
    const b = this.#beats.get(label);
    // A degraded node's probe round contacts every peer, gone or not.
    if (!b || b.unreachableSince === null || this.#probing) return null;
    if (this.#clock.now() - b.unreachableSince < 2 * HEARTBEAT_MS) return null;
    const r = this.engine?.peerHealth().find((h) => h.peer === label);
    if (r?.lastOkAt != null && r.lastOkAt >= b.unreachableSince) return null;
    return `no heartbeat answer since ${new Date(b.unreachableSince).toISOString()}` +
      (b.lastError ? `: ${b.lastError}` : "");
  }

  async #heartbeat(rpc: PeerRpc): Promise<void> {
    const log = this.#deps.logger;
    while (!this.#stop.signal.aborted) {
      await this.#clock.sleep(HEARTBEAT_MS, this.#stop.signal);
      if (this.#stop.signal.aborted) return;
      // A slow link is not a dead one: the deadline leaves a 1 s round trip (500 ms each way) and
      // a busy peer room to answer, so only a peer that is really cut off counts as gone.
      const beats = await rpc.heartbeat(2 * HEARTBEAT_MS);
      if (this.#stop.signal.aborted) return;
      this.#deps.onBeats?.(beats);
      const now = this.#clock.now();
      for (const b of beats) {
        const old = this.#beats.get(b.peer);
        if (b.error === null) {
          if (old && old.unreachableSince !== null) {
            log.info("peer reachable again", {
              peer: b.peer,
              node: b.node ?? old.node ?? undefined,
            });
          }
          this.#beats.set(b.peer, {
            peer: b.peer,
            node: b.node ?? old?.node ?? null,
            lastOkAt: now,
            unreachableSince: null,
            lastError: null,
          });
        } else {
          this.#errors.set(b.peer, (this.#errors.get(b.peer) ?? 0) + 1);
          if (!old || old.unreachableSince === null) {
            log.warn("peer unreachable", { peer: b.peer, error: b.error });
          }
          this.#beats.set(b.peer, {
            peer: b.peer,
            node: old?.node ?? null,
            lastOkAt: old?.lastOkAt ?? null,
            unreachableSince: old?.unreachableSince ?? now,
            lastError: b.error,
          });
        }
      }
    }
  }

  /** States forgotten since the memory was last given back. */
  #forgotten = 0;

  /** After a big outage is over: give the memory it used back to the system, in steps on turns
   * of their own (each full GC pauses the node for a moment). */
  #release(forgotten: number): void {
    nextTurn().then(async () => {
      if (this.#stop.signal.aborted) return;
      const r = await releaseMemory();
      this.#deps.logger.info("memory returned after an outage", {
        forgotten,
        rss_mb: `${(r.rssBefore / 1048576).toFixed(0)}->${(r.rssAfter / 1048576).toFixed(0)}`,
        ms: Math.round(r.ms),
        longest_ms: Math.round(r.longestMs),
      });
    });
  }

  /** Failed contacts per peer label (heartbeat pings and confirm/view requests) so far. */
  peerErrors(): Map<string, number> {
    return new Map(this.#errors);
  }

  /**
   * What this node knows of each peer: the heartbeat's view when it has one (it is at most a
   * couple of seconds old), else what the consensus rounds saw; the last contact is the later
   * of the two.
   */
  peerHealth(): PeerHealth[] {
    const out = new Map<string, PeerHealth>();
    for (const h of this.engine.peerHealth()) out.set(h.peer, h);
    for (const [peer, b] of this.#beats) {
      const r = out.get(peer);
      const lastOkAt = Math.max(b.lastOkAt ?? -1, r?.lastOkAt ?? -1);
      out.set(peer, {
        ...b,
        node: b.node ?? r?.node ?? null,
        lastOkAt: lastOkAt < 0 ? null : lastOkAt,
      });
    }
    return [...out.values()];
  }

  /** Per host+test: the round loop running, and the newest result waiting for it. */
  #loops = new Map<string, { pending: CheckResult | null; done: Promise<void> }>();

  /**
   * The node's result hook: every scheduled result goes through a consensus round. Returns at
   * once, so a round waiting for a silent peer never costs the check its next slot; while a round
   * for the same host+test runs, only the newest result waits for it (stale ones are dropped).
   */
  onResult(result: CheckResult): Promise<void> {
    const key = `${result.host}\0${result.test}`;
    const loop = this.#loops.get(key);
    if (loop) {
      loop.pending = result;
      return Promise.resolve();
    }
    const entry = { pending: result as CheckResult | null, done: Promise.resolve() };
    this.#loops.set(key, entry);
    entry.done = (async () => {
      try {
        while (entry.pending !== null) {
          const r = entry.pending;
          entry.pending = null;
          await this.#round(r).catch((e) =>
            this.#deps.logger.error("consensus round failed", {
              host: r.host,
              test: r.test,
              error: String(e),
            })
          );
        }
      } finally {
        this.#loops.delete(key);
      }
    })();
    return Promise.resolve();
  }

  /** Resolves when every result handed to `onResult` so far has had its round (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.#loops.size > 0) await Promise.all([...this.#loops.values()].map((l) => l.done));
    await this.engine.idle();
  }

  async #round(result: CheckResult): Promise<void> {
    // A degraded node votes UNKNOWN and so never asks its peers; once per probe period one of its
    // failing results runs a normal round, which contacts them and finds out whether they are back.
    const now = this.#clock.now();
    if (result.status !== "OK" && now - this.#probeAt >= DEGRADED_PROBE_MS && this.degraded()) {
      this.#probeAt = now;
      this.#probing = true;
      try {
        await this.engine.round(result.host, result.test, result);
      } finally {
        this.#probing = false;
      }
      return;
    }
    await this.engine.round(result.host, result.test, result);
  }

  /**
   * Degraded: every peer was contacted and none answered, and most local checks fail (see
   * lib/quorum isDegraded). Peers never contacted yet do not count as unreachable.
   */
  degraded(): boolean {
    const config = this.#deps.config();
    if (config.peers.length === 0) return false;
    const unreachable = this.peerHealth().filter((p) => p.unreachableSince !== null).length;
    const peersReachable = config.peers.length - unreachable;
    // This runs for every result (the engine asks before each vote): while any peer answers, the
    // node is not degraded and the store need not be counted.
    if (peersReachable > 0) return false;
    return isDegraded({
      peersTotal: config.peers.length,
      peersReachable,
      checksTotal: config.tests.length,
      checksFailing: this.#deps.store.failingCount(),
    });
  }

  #index: { config: Config; tests: Map<string, TestConfig> } | null = null;

  /** The configured test, by a map rebuilt when the config changes: a batch of 1,000 pairs must
   * not scan every test for each pair. */
  #test(host: string, test: string): TestConfig | undefined {
    const config = this.#deps.config();
    if (this.#index?.config !== config) {
      this.#index = {
        config,
        tests: new Map(config.tests.map((t) => [`${t.host}\0${t.test}`, t])),
      };
    }
    return this.#index.tests.get(`${host}\0${test}`);
  }

  /** The peer endpoint's callbacks (everything but key, log and limits). */
  peerCallbacks(): Pick<PeerAppDeps, "confirm" | "view" | "hear" | "state"> {
    const { store, execute, logger } = this.#deps;
    return {
      confirm: async (host, test, signal, maxAgeMs = 0): Promise<LocalAnswer | null> => {
        const t = this.#test(host, test);
        if (!t) return null;
        // Only a result taken after the asker's failure answers it (never an older one, or the
        // first node to see a real outage would be told its view differs).
        const cutoff = this.#clock.now() - maxAgeMs;
        const last = store.last(host, test);
        if (last && maxAgeMs > 0 && last.startedAt >= cutoff) {
          return this.engine.answer(host, test, last);
        }
        // Runs the check now (or joins the run already under way) and records it like any result;
        // it does not start a round of its own: the scheduled run does that. A joined run that
        // started before the cutoff is too old: run once more.
        let result: CheckResult | null = null;
        for (let i = 0; i < 2 && !signal.aborted; i++) {
          result = await execute(t);
          this.#results.record(result, "confirm");
          if (result.startedAt >= cutoff) break;
        }
        return result === null ? null : this.engine.answer(host, test, result);
      },
      view: (host, test) =>
        this.#test(host, test) ? this.engine.answer(host, test, store.last(host, test)) : null,
      hear: (host, test, from, view) => {
        if (!this.#test(host, test)) return Promise.resolve(false);
        this.engine.hear(host, test, view).catch((e) =>
          logger.error("announcement handling failed", { host, test, from, error: String(e) })
        );
        return Promise.resolve(true);
      },
      state: () => ({
        ...this.engine.snapshot(),
        checks: store.lastAll(),
        // Batch requests sent to each peer, by kind (benches, debugging).
        requests: this.rpc?.stats() ?? {},
        // The process's memory (benches: what an outage leaves behind, heap or not).
        memory: Deno.memoryUsage(),
      }),
    };
  }

  /** Every persisted incident state (open ones and the last closed one per host+test). */
  states(): IncidentState[] {
    return this.engine.states();
  }

  /** One host+test's state, without copying every other one (per-check page, badge). */
  state(host: string, test: string): IncidentState | null {
    return this.engine.state(host, test);
  }

  close(): void {
    this.#stop.abort();
    this.engine.close();
    this.rpc?.close();
  }
}
