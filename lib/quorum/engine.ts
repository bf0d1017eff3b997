/**
 * The thin shell around the pure incident machine: keeps one state per host+test, performs the
 * effects (asks the peers, hands notifications to the notifier, arms wake-up timers, logs,
 * persists) and feeds the results back. Everything it touches is injected.
 * @module
 */
import type { QuorumRule } from "../config/types.ts";
import type { CheckResult } from "../runner/result.ts";
import { createLogger, type Logger } from "../log/mod.ts";
import { type Clock, systemClock } from "../clock/mod.ts";
import type { IncidentState, IncidentView, LocalAnswer, Notifier, PeerAnswer } from "./types.ts";
import {
  type Effect,
  type IncidentContext,
  type IncidentEvent,
  initialIncident,
  nextIncident,
  type QuorumTiming,
  toView,
} from "./incident.ts";
import { isFailingVote, localVote } from "./quorum.ts";
import { roundDeadlineFor } from "./timing.ts";
import { undelivered } from "./notices.ts";
import {
  type BeatHealth,
  type HealthTable,
  type PeerHealth,
  reachableCount,
  recordAnswers,
  sanitizeAnswers,
  withProofOfLife,
} from "./health.ts";
import { cloneData } from "./clone.ts";

/** Asks every peer about a host+test: `confirm` makes them check, `view` only reads their state.
 * `since` (confirm): epoch ms of the local result that started the round; a peer must answer from
 * a result at least that recent. `deadlineMs` (view): the most a view round may take (a claim's
 * rounds must finish within its settle time); the implementation's own deadline if lower. */
export type AskFn = (
  host: string,
  test: string,
  mode: "confirm" | "view",
  since?: number,
  deadlineMs?: number,
) => Promise<PeerAnswer[]>;

export interface EngineOptions {
  self: string;
  /** Peer addresses from nodes.txt; the cluster is these plus this node. */
  peers: readonly string[];
  rule: QuorumRule;
  timing: QuorumTiming;
  ask: AskFn;
  notifier: Notifier;
  /** Time and wake-up timers (default: the system clock). */
  clock?: Clock;
  log?: Logger;
  /** Pushes this node's view to every peer (POST /v1/incident); awaited, bounded by its own
   * deadline, errors swallowed by the implementation. Default: nothing (single-node mode). */
  announce?: (host: string, test: string, view: IncidentView) => Promise<void>;
  /** Persists a state after every change (SQLite in the node); awaited before notifying. */
  save?: (s: IncidentState) => void | Promise<void>;
  /** Whether this node is degraded (see `isDegraded`); its failures then vote UNKNOWN. */
  degraded?: () => boolean;
  /** What the heartbeat knows of a peer (see `withProofOfLife`). Default: nothing (silence in
   * the rounds is all there is). */
  beat?: (peer: string) => BeatHealth | null;
  /** The settle time of a claim made now, from the measured round trips (see `settleFor`);
   * capped at `timing.settleMs`, its default. */
  settle?: () => number;
  /**
   * Forget a host+test that has been quiet this long (phase ok, nothing claimed, heard or left to
   * deliver; its last incident closed): its state goes, so what an outage used is returned when
   * it ends. Must exceed the time a reachable peer needs to learn of the closed incident from
   * this node (its next round: about one check interval) plus the time after which an
   * unreachable peer goes ahead without it (`stuckMs`). Default: keep every state.
   */
  forgetAfterMs?: number;
  /** Deletes forgotten states from persistence (one call per sweep). */
  forget?: (keys: { host: string; test: string }[]) => void;
}

export interface EngineSnapshot {
  node: string;
  degraded: boolean;
  incidents: IncidentView[];
  peers: PeerHealth[];
}

/** Runs the consensus rounds of one node. */
export class IncidentEngine {
  readonly #o: EngineOptions;
  readonly #ctx: IncidentContext;
  readonly #clock: () => number;
  readonly #sleep: Clock["sleep"];
  readonly #log: Logger;
  #states = new Map<string, IncidentState>();
  #locks = new Map<string, Promise<unknown>>();
  #wakes = new Map<string, { at: number; cancel: AbortController }>();
  /** Announcements received while a round was in progress, per host+test. */
  #inbox = new Map<string, IncidentView[]>();
  #health: HealthTable = {};
  #closed = false;
  readonly #stopSweep = new AbortController();

  constructor(o: EngineOptions) {
    this.#o = o;
    this.#ctx = { self: o.self, nodesTotal: o.peers.length + 1, rule: o.rule, timing: o.timing };
    const clock = o.clock ?? systemClock;
    this.#clock = () => clock.now();
    this.#sleep = (ms, signal) => clock.sleep(ms, signal);
    this.#log = o.log ?? createLogger({ component: "quorum" });
    if (o.forgetAfterMs !== undefined) {
      this.#sweepLoop(o.forgetAfterMs).catch((e) =>
        this.#log.error("forgetting quiet states stopped", { error: String(e) })
      );
    }
  }

  /** Every half `forgetAfterMs`, forgets the states quiet for `forgetAfterMs`. */
  async #sweepLoop(afterMs: number): Promise<void> {
    const period = Math.max(1000, Math.round(afterMs / 2));
    while (!this.#closed) {
      await this.#sleep(period, this.#stopSweep.signal);
      if (this.#closed) return;
      this.sweep(afterMs);
    }
  }

  /** Forgets the states quiet for `afterMs` at least (see `forgetAfterMs`); returns how many. */
  sweep(afterMs: number): number {
    const now = this.#clock();
    const gone: { host: string; test: string }[] = [];
    for (const [k, s] of this.#states) {
      if (now - s.since < afterMs || !this.#quiet(s)) continue;
      if (this.#locks.has(k) || this.#inbox.has(k)) continue;
      this.#states.delete(k);
      // A wake-up of a quiet state has nothing to do (see nextIncident "wake").
      this.#wakes.get(k)?.cancel.abort("forgotten");
      this.#wakes.delete(k);
      gone.push({ host: s.host, test: s.test });
    }
    if (gone.length > 0) {
      this.#o.forget?.(gone);
      this.#log.debug("quiet states forgotten", { count: gone.length });
    }
    return gone.length;
  }

  #quiet(s: IncidentState): boolean {
    return s.phase === "ok" && s.claim === null && s.incident === null && s.heard === null &&
      undelivered(s, this.#ctx).length === 0;
  }

  /** Feeds a local check result; when it failed, or an incident is open, runs a round. Returns
   * every effect that was applied, for logs and tests. */
  round(host: string, test: string, result: CheckResult): Promise<Effect[]> {
    const vote = localVote(this.#o.self, result, this.degraded());
    return this.#step(host, test, { type: "check", vote });
  }

  /** Re-examines a host+test (timer fired, or after a restart). */
  wake(host: string, test: string): Promise<Effect[]> {
    return this.#step(host, test, { type: "wake" });
  }

  /** Takes in a peer's announcement (POST /v1/incident). */
  hear(host: string, test: string, view: IncidentView): Promise<Effect[]> {
    // Not behind a round in progress: it is taken in before that round's result is decided on.
    const k = key(host, test);
    this.#inbox.set(k, [...(this.#inbox.get(k) ?? []), view]);
    return this.#step(host, test, null);
  }

  /** This node's answer to a peer's confirm, for a local result (null: test not configured). */
  answer(host: string, test: string, result: CheckResult | null): LocalAnswer {
    if (result === null) {
      return {
        status: "UNKNOWN",
        output: "test not configured here",
        at: this.#clock(),
        incident: null,
      };
    }
    const v = localVote(this.#o.self, result, this.degraded());
    return {
      status: v.status as LocalAnswer["status"],
      output: v.output,
      at: v.at,
      incident: this.view(host, test),
    };
  }

  /** What this node publishes about a host+test, or null when it never looked at it. */
  view(host: string, test: string): IncidentView | null {
    const s = this.#states.get(key(host, test));
    return s ? toView(s) : null;
  }

  degraded(): boolean {
    return this.#o.degraded?.() ?? false;
  }

  /** How many peers answered their last contact (input to `isDegraded`). */
  peersReachable(): number {
    return reachableCount(this.#health);
  }

  /** What is known of each peer contacted so far (peers never contacted are absent). */
  peerHealth(): PeerHealth[] {
    return Object.values(this.#health);
  }

  /** Everything for `GET /v1/state`: non-trivial incidents and peer health. */
  snapshot(): EngineSnapshot {
    const incidents = [...this.#states.values()]
      .filter((s) => s.phase !== "ok" || s.closed !== null)
      .map(toView);
    return {
      node: this.#o.self,
      degraded: this.degraded(),
      incidents,
      peers: Object.values(this.#health),
    };
  }

  /** How many host+test states the engine holds (open, closing or not yet forgotten). */
  get size(): number {
    return this.#states.size;
  }

  /** One host+test's state (a copy), or null when it never looked at it. */
  state(host: string, test: string): IncidentState | null {
    const s = this.#states.get(key(host, test));
    return s ? cloneData(s) : null;
  }

  /** Every state, for persistence. */
  states(): IncidentState[] {
    return [...this.#states.values()].map((s) => cloneData(s));
  }

  /** Loads persisted states. Claims are dropped (a restarted node must claim and settle again);
   * anything open or undelivered is re-examined at once. */
  restore(states: readonly IncidentState[]): void {
    for (const st of states) {
      const s = cloneData(st);
      s.claim = null;
      s.claimedAt = null;
      delete s.settleMs;
      if (s.phase === "suspect") s.phase = "ok";
      this.#states.set(key(s.host, s.test), s);
      if (s.incident !== null || s.closed?.recovered?.deliveredAt === null) {
        this.#arm(s.host, s.test, this.#clock());
      }
    }
  }

  /** Resolves when every round in progress has finished (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.#locks.size > 0) await Promise.all([...this.#locks.values()]);
  }

  /** Cancels pending timers; later calls do nothing. */
  close(): void {
    this.#closed = true;
    this.#stopSweep.abort("closed");
    for (const w of this.#wakes.values()) w.cancel.abort();
    this.#wakes.clear();
  }

  #step(host: string, test: string, event: IncidentEvent | null): Promise<Effect[]> {
    const k = key(host, test);
    const prev = this.#locks.get(k) ?? Promise.resolve();
    const run = prev.then(() => this.#run(host, test, event));
    const tail = run.catch(() => {});
    this.#locks.set(k, tail);
    tail.then(() => {
      if (this.#locks.get(k) === tail) this.#locks.delete(k);
    });
    return run;
  }

  async #run(host: string, test: string, first: IncidentEvent | null): Promise<Effect[]> {
    if (this.#closed) return [];
    const k = key(host, test);
    const applied: Effect[] = [];
    const queue: IncidentEvent[] = first ? [first] : [];
    // Each event yields at most one ask and its round; the bound only guards against a bug looping.
    for (let i = 0; i < 32; i++) {
      const inbox = this.#inbox.get(k);
      if (inbox) {
        this.#inbox.delete(k);
        queue.unshift(...inbox.map((view): IncidentEvent => ({ type: "heard", view })));
      }
      const event = queue.shift();
      if (event === undefined) break;
      const stored = this.#states.get(k);
      // The common case, a passing check with nothing going on, costs nothing.
      if (!stored && event.type === "check" && !isFailingVote(event.vote.status)) break;
      const prev = stored ?? initialIncident(host, test, this.#clock());
      const ctx = this.#o.settle ? { ...this.#ctx, settleMs: this.#o.settle() } : this.#ctx;
      const { state, effects } = nextIncident(prev, event, ctx, this.#clock());
      if (!stored || !sameJson(state, prev)) {
        this.#states.set(k, state);
        await this.#o.save?.(state);
      }
      applied.push(...effects);
      const later: IncidentEvent[] = [];
      for (const e of effects) {
        if (e.type === "log") this.#log[e.level](e.msg, { host, test, ...e.fields });
        else if (e.type === "wake") this.#arm(host, test, e.at);
      }
      if (effects.some((e) => e.type === "announce") && this.#o.announce) {
        // Best effort: peers also learn it from their next round. A commit is announced before
        // its notification is handed on (until the first peer took it in: then a node taking over
        // re-sends under the same id); a delivery is announced without holding up what follows.
        const announced = this.#o.announce(host, test, toView(state)).catch((err) =>
          this.#log.warn("announcing to peers failed", { host, test, error: String(err) })
        );
        if (effects.some((e) => e.type === "notify")) await announced;
      }
      for (const e of effects) {
        if (e.type !== "notify") continue;
        try {
          await this.#o.notifier.notify(e.notification);
          later.push({ type: "delivered", id: e.notification.id });
        } catch (err) {
          const error = err instanceof Error ? err.message : String(err);
          later.push({ type: "undelivered", id: e.notification.id, error });
        }
      }
      for (const e of effects) {
        if (e.type !== "ask") continue;
        const startedAt = this.#clock();
        let raw: PeerAnswer[];
        try {
          // A claim's view rounds must finish within its settle time, or it could never commit.
          const deadline = e.mode === "view" && state.claim !== null
            ? roundDeadlineFor(state.settleMs ?? this.#ctx.timing.settleMs)
            : undefined;
          raw = await this.#o.ask(host, test, e.mode, e.since ?? e.self?.at, deadline);
        } catch (err) {
          // The peer client never throws; an injected one that does costs this round, not the node.
          this.#log.error("asking peers failed", { host, test, error: String(err) });
          continue;
        }
        const answers = sanitizeAnswers(raw, this.#o.self);
        const now = this.#clock();
        const before = this.#health;
        const recorded = recordAnswers(before, answers, now);
        this.#health = { ...before, ...recorded.table };
        const infos = this.#o.beat
          ? withProofOfLife(recorded.infos, before, this.#o.beat, now, this.#stuckMs())
          : recorded.infos;
        for (const a of infos) {
          if (a.error) {
            this.#log.debug("peer unreachable", { host, test, peer: a.peer, error: a.error });
          }
        }
        later.push({ type: "round", mode: e.mode, startedAt, self: e.self, peers: infos });
      }
      queue.unshift(...later);
    }
    return applied;
  }

  #stuckMs(): number {
    return this.#ctx.timing.stuckMs ?? 5 * this.#ctx.timing.handoverMs;
  }

  #arm(host: string, test: string, at: number): void {
    if (this.#closed) return;
    const k = key(host, test);
    const old = this.#wakes.get(k);
    if (old && old.at <= at) return;
    if (old) old.cancel.abort("rearmed"); // a reason: no DOMException (and stack) per timer
    const cancel = new AbortController();
    this.#wakes.set(k, { at, cancel });
    this.#sleep(Math.max(0, at - this.#clock()), cancel.signal).then(() => {
      if (cancel.signal.aborted) return;
      this.#wakes.delete(k);
      this.wake(host, test).catch((err) =>
        this.#log.error("wake failed", { host, test, error: String(err) })
      );
    });
  }
}

/** Deep equality of two plain-JSON values (states), without building their JSON: a mass failure
 * runs thousands of steps a second, and two stringifies each were garbage for the GC. */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    if (a.length !== bb.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameJson(a[i], bb[i])) return false;
    return true;
  }
  const ao = a as Record<string, unknown>, bo = b as Record<string, unknown>;
  const ak = Object.keys(ao);
  if (ak.length !== Object.keys(bo).length) return false;
  for (const k of ak) if (!(k in bo) || !sameJson(ao[k], bo[k])) return false;
  return true;
}

function key(host: string, test: string): string {
  return `${host}\u0000${test}`;
}

export type { QuorumTiming };
