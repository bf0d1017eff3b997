/**
 * A deterministic discrete-event simulation of a cluster running the pure incident machine, for
 * tests: nodes check on their own schedules, rounds take random loopback-like latencies, peers
 * answer from their state at the moment the request reaches them, nodes die and restart, the
 * network partitions. It performs effects in the same order as `IncidentEngine` (persist, then
 * announce, then notify, then ask; results handled before queued events). Not part of the
 * public surface.
 * @module
 */
import type { QuorumRule } from "../config/types.ts";
import { type HealthTable, recordAnswers } from "./health.ts";
import {
  type Effect,
  type IncidentEvent,
  initialIncident,
  nextIncident,
  type QuorumTiming,
  toView,
} from "./incident.ts";
import { prng } from "./fixtures_testing.ts";
import type { IncidentState, Notification, PeerAnswer, Vote, VoteStatus } from "./types.ts";

export interface SimOptions {
  nodes: string[];
  rule: QuorumRule;
  timing: QuorumTiming;
  seed: number;
  intervalMs: number;
  confirmDeadlineMs: number;
  viewDeadlineMs: number;
  /** One-way latency bounds between two live, connected nodes. */
  latencyMs: [number, number];
  /** What `node` sees at time `t`. */
  service: (node: string, t: number) => "OK" | "FAIL";
  /** Whether `a` and `b` can talk at time `t` (default: always). */
  link?: (a: string, b: string, t: number) => boolean;
  /** Node deaths (SIGKILL) and restarts. */
  kills?: { node: string; at: number; restartAt?: number }[];
  endMs: number;
  /** Called for every step, for debugging a seed. */
  trace?: (
    t: number,
    node: string,
    event: IncidentEvent,
    effects: Effect[],
    state: IncidentState,
  ) => void;
}

export interface Delivery {
  at: number;
  node: string;
  n: Notification;
}

interface SimNode {
  name: string;
  alive: boolean;
  incarnation: number;
  state: IncidentState;
  health: HealthTable;
  busy: boolean;
  queue: IncidentEvent[];
  inbox: IncidentEvent[];
}

/** Runs a simulation; returns every notification accepted by a notifier, and the final states. */
export function simulate(
  o: SimOptions,
): { deliveries: Delivery[]; states: Map<string, IncidentState> } {
  const rand = prng(o.seed);
  const link = o.link ?? (() => true);
  const agenda: { at: number; seq: number; fn: () => void }[] = [];
  let seq = 0;
  let now = 0;
  const at = (t: number, fn: () => void) => {
    agenda.push({ at: t, seq: seq++, fn });
  };
  const nodes = new Map<string, SimNode>();
  for (const name of o.nodes) {
    nodes.set(name, {
      name,
      alive: true,
      incarnation: 0,
      state: initialIncident("svc", "http", 0),
      health: {},
      busy: false,
      queue: [],
      inbox: [],
    });
  }
  const deliveries: Delivery[] = [];
  const lat = () => o.latencyMs[0] + rand() * (o.latencyMs[1] - o.latencyMs[0]);
  const ctxOf = (n: SimNode) => ({
    self: n.name,
    nodesTotal: o.nodes.length,
    rule: o.rule,
    timing: o.timing,
  });
  /** Schedules `fn` for `n` unless it died (or restarted) in between. */
  const later = (n: SimNode, t: number, fn: () => void) => {
    const inc = n.incarnation;
    at(t, () => {
      if (n.alive && n.incarnation === inc) fn();
    });
  };

  const deliver = (n: SimNode, e: IncidentEvent) => {
    if (!n.alive) return;
    // Announcements skip the queue, as in IncidentEngine.hear: taken in before the next step.
    if (e.type === "heard") {
      n.inbox.push(e);
      if (!n.busy) run(n, []);
    } else if (n.busy) n.queue.push(e);
    else run(n, [e]);
  };

  /** Processes events for `n`; follow-up events (results) go first, like the engine's queue. */
  const run = (n: SimNode, events: IncidentEvent[]): void => {
    n.busy = true;
    events.unshift(...n.inbox.splice(0));
    const e = events.shift();
    if (e === undefined) {
      n.busy = false;
      const next = n.queue.shift();
      if (next !== undefined) run(n, [next]);
      return;
    }
    const step = nextIncident(n.state, e, ctxOf(n), now);
    n.state = step.state;
    o.trace?.(now, n.name, e, step.effects, step.state);
    perform(n, step.effects, events);
  };

  const perform = (n: SimNode, effects: Effect[], rest: IncidentEvent[]) => {
    for (const e of effects) {
      if (e.type === "wake") later(n, Math.max(e.at, now), () => deliver(n, { type: "wake" }));
    }
    // Each step calls `done(events)` when it finishes, in virtual time.
    const steps: ((done: (ev: IncidentEvent[]) => void) => void)[] = [];
    if (effects.some((e) => e.type === "announce")) {
      const view = toView(n.state);
      steps.push((done) => {
        let end = now;
        for (const p of nodes.values()) {
          if (p === n) continue;
          if (!p.alive || !link(n.name, p.name, now)) {
            end = Math.max(end, now + (p.alive ? o.viewDeadlineMs : 1));
            continue;
          }
          const t = now + lat();
          later(p, t, () => deliver(p, { type: "heard", view: structuredClone(view) }));
          end = Math.max(end, t + lat());
        }
        later(n, end, () => done([]));
      });
    }
    for (const e of effects) {
      if (e.type !== "notify") continue;
      steps.push((done) => {
        deliveries.push({ at: now, node: n.name, n: e.notification });
        done([{ type: "delivered", id: e.notification.id }]);
      });
    }
    for (const e of effects) {
      if (e.type !== "ask") continue;
      steps.push((done) => ask(n, e.mode, e.self, done));
    }
    const go = (i: number, acc: IncidentEvent[]) => {
      if (i === steps.length) {
        run(n, [...acc, ...rest]);
        return;
      }
      steps[i]!((ev) => go(i + 1, [...acc, ...ev]));
    };
    go(0, []);
  };

  const ask = (
    n: SimNode,
    mode: "confirm" | "view",
    self: Vote | null,
    done: (ev: IncidentEvent[]) => void,
  ) => {
    const startedAt = now;
    const deadline = now + (mode === "confirm" ? o.confirmDeadlineMs : o.viewDeadlineMs);
    const answers = new Map<string, PeerAnswer>();
    const peers = [...nodes.values()].filter((p) => p !== n);
    let end = now;
    for (const p of peers) {
      const unreachable = (why: string): PeerAnswer => ({
        peer: `${p.name}:2929`,
        node: null,
        vote: { node: `${p.name}:2929`, status: "UNREACHABLE", output: why, at: startedAt },
        incident: null,
        error: why,
        latencyMs: 0,
      });
      if (!p.alive) {
        answers.set(p.name, unreachable("connection refused"));
        end = Math.max(end, now + 1);
        continue;
      }
      if (!link(n.name, p.name, now)) {
        answers.set(p.name, unreachable("deadline exceeded"));
        end = Math.max(end, deadline);
        continue;
      }
      const arrive = now + lat();
      const back = arrive + lat();
      if (back > deadline) {
        answers.set(p.name, unreachable("deadline exceeded"));
        end = Math.max(end, deadline);
        continue;
      }
      end = Math.max(end, back);
      // The peer answers from its state when the request reaches it (if it is alive then).
      later(p, arrive, () => {
        const status: VoteStatus = o.service(p.name, arrive);
        answers.set(p.name, {
          peer: `${p.name}:2929`,
          node: p.name,
          vote: { node: p.name, status, output: "", at: arrive },
          incident: structuredClone(toView(p.state)),
          latencyMs: back - now,
        });
      });
    }
    later(n, end, () => {
      const list = peers.map((p) => answers.get(p.name) ?? unreachable(p));
      const { table, infos } = recordAnswers(n.health, list, now);
      n.health = table;
      done([{ type: "round", mode, startedAt, self, peers: infos }]);
    });
    function unreachable(p: SimNode): PeerAnswer {
      return {
        peer: `${p.name}:2929`,
        node: null,
        vote: { node: `${p.name}:2929`, status: "UNREACHABLE", output: "died", at: startedAt },
        incident: null,
        error: "died while answering",
        latencyMs: 0,
      };
    }
  };

  for (const n of nodes.values()) {
    const offset = Math.floor(rand() * o.intervalMs);
    const tick = (t: number) => {
      at(t, () => {
        if (n.alive) {
          const status = o.service(n.name, now);
          deliver(n, { type: "check", vote: { node: n.name, status, output: "", at: now } });
        }
        if (t + o.intervalMs < o.endMs) tick(t + o.intervalMs);
      });
    };
    tick(offset);
  }
  for (const k of o.kills ?? []) {
    at(k.at, () => {
      const n = nodes.get(k.node)!;
      o.trace?.(
        now,
        n.name,
        { type: "wake" },
        [{ type: "log", level: "warn", msg: "KILLED" }],
        n.state,
      );
      n.alive = false;
      n.incarnation++;
      n.busy = false;
      n.queue = [];
      n.inbox = [];
    });
    if (k.restartAt !== undefined) {
      at(k.restartAt, () => {
        const n = nodes.get(k.node)!;
        // What IncidentEngine.restore does with the persisted state.
        n.state = { ...n.state, claim: null, claimedAt: null };
        n.health = {};
        n.alive = true;
        n.incarnation++;
        deliver(n, { type: "wake" });
      });
    }
  }

  while (agenda.length > 0) {
    let best = 0;
    for (let i = 1; i < agenda.length; i++) {
      const a = agenda[i]!, b = agenda[best]!;
      if (a.at < b.at || (a.at === b.at && a.seq < b.seq)) best = i;
    }
    const ev = agenda[best]!;
    agenda[best] = agenda[agenda.length - 1]!;
    agenda.pop();
    if (ev.at > o.endMs) break;
    now = ev.at;
    ev.fn();
  }
  return { deliveries, states: new Map([...nodes].map(([k, v]) => [k, v.state])) };
}
