/**
 * A deterministic discrete-event simulation of a cluster, for tests and benches: each node is a
 * real `IncidentEngine` (the shell and its effect order, not a copy) on a virtual clock, talking to
 * its peers through the real per-peer batch queues (`BatchQueue`, the node's policy) over a
 * virtual network: seeded latencies, lost links, dead nodes, and overloaded peers that answer
 * slowly (a per-item service time) or refuse with Retry-After. Nodes check on their own schedules,
 * peers answer from their state when a request is processed, nodes die and restart from their
 * persisted states. Test support only; never exported from mod.ts.
 * @module
 */
import { setImmediate } from "node:timers";
import type { QuorumRule } from "../config/types.ts";
import type { Clock } from "../clock/mod.ts";
import { createLogger } from "../log/mod.ts";
import type { CheckResult } from "../runner/result.ts";
import { BatchQueue, lingerFor, PEER_QUEUES, type SendOutcome } from "./batch.ts";
import { IncidentEngine } from "./engine.ts";
import { firstTakenIn } from "./acks.ts";
import type { QuorumTiming } from "./incident.ts";
import { prng } from "./fixtures_testing.ts";
import type {
  IncidentState,
  IncidentView,
  LocalAnswer,
  Notification,
  PeerAnswer,
} from "./types.ts";

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
  /** One-way latency bounds of the link between `a` and `b`, when it differs (null: `latencyMs`). */
  linkLatencyMs?: (a: string, b: string) => [number, number] | null;
  /** What `node` sees of `host` at time `t`. */
  service: (node: string, t: number, host: string) => "OK" | "FAIL";
  /** How many host/tests each node checks (hosts `h0`…; default 1, named `svc`). */
  checks?: number;
  /** Whether `a` and `b` can talk at time `t` (default: always). */
  link?: (a: string, b: string, t: number) => boolean;
  /** Node deaths (SIGKILL) and restarts. */
  kills?: { node: string; at: number; restartAt?: number }[];
  /** Time a peer spends per item of a request; requests are served one at a time per peer, so
   * a burst queues up (an overloaded peer answers late, or past the deadline). */
  perItemMs?: number;
  /** Whether `node` refuses requests at `t` with 503 and Retry-After (an overloaded peer). */
  busy?: (node: string, t: number) => boolean;
  /** The Retry-After a busy peer sends (default 1000 ms). */
  retryAfterMs?: number;
  /** Each node's settle time for a claim it makes at `t` (as lib/node derives it from the round
   * trips it measures); default: every claim uses `timing.settleMs`. */
  settleFor?: (node: string, t: number) => number;
  /** Model the node's heartbeat (every 2 s, as lib/node does; a busy peer still answers it): the
   * engines then learn which silent peers are alive (default true). */
  heartbeat?: boolean;
  endMs: number;
}

export interface Delivery {
  at: number;
  node: string;
  n: Notification;
}

export interface SimResult {
  deliveries: Delivery[];
  /** Final state of each node's first check. */
  states: Map<string, IncidentState>;
  /** Requests sent between nodes, all kinds. */
  requests: number;
  /** Busy refusals (503 with Retry-After) among them. */
  refused: number;
  /** Requests by kind. */
  byKind: Record<"confirm" | "view" | "incident", number>;
}

/** A binary min-heap on (at, seq): the agenda. */
class Agenda {
  #h: { at: number; seq: number; fn: (() => void) | null }[] = [];
  #seq = 0;
  get size(): number {
    return this.#h.length;
  }
  /** Returns the entry; setting its `fn` to null cancels it. */
  push(at: number, fn: () => void): { fn: (() => void) | null } {
    const h = this.#h;
    const e = { at, seq: this.#seq++, fn: fn as (() => void) | null };
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!less(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
    return e;
  }
  peek(): number {
    return this.#h[0]?.at ?? Infinity;
  }
  pop(): { at: number; fn: (() => void) | null } {
    const h = this.#h;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < h.length && less(h[l]!, h[m]!)) m = l;
        if (r < h.length && less(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }
}

function less(a: { at: number; seq: number }, b: { at: number; seq: number }): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

/** Lets every pending promise continuation run: a macrotask boundary (setTimeout(0) would be
 * clamped to milliseconds when nested; a reused MessagePort is not a boundary in Deno). */
function drain(): Promise<void> {
  return new Promise<void>((resolve) => setImmediate(resolve));
}

interface SimNode {
  name: string;
  alive: boolean;
  incarnation: number;
  engine: IncidentEngine;
  saved: Map<string, IncidentState>;
  /** When this node's request handler is free again (requests are served one at a time). */
  freeAt: number;
  queues: Map<string, Queues>;
  /** Peer name -> what its heartbeat saw (an answer, busy or not, or a failure since). */
  beats: Map<string, { lastOkAt: number | null; unreachableSince: number | null }>;
}

interface Queues {
  confirm: BatchQueue<Item, PeerAnswer>;
  view: BatchQueue<Item, PeerAnswer>;
  incident: BatchQueue<IncidentView, null | string>;
}

interface Item {
  host: string;
  test: string;
}

const quiet = createLogger({ min: "error" });

/** Runs a simulation; returns every notification accepted by a notifier, and more. */
export async function simulate(o: SimOptions): Promise<SimResult> {
  const rand = prng(o.seed);
  const link = o.link ?? (() => true);
  const agenda = new Agenda();
  let now = 0;
  let requests = 0, refused = 0;
  const byKind = { confirm: 0, view: 0, incident: 0 };
  const clock: Clock = {
    now: () => now,
    sleep: (ms, signal) =>
      new Promise<void>((resolve) => {
        if (signal?.aborted) return resolve();
        const e = agenda.push(now + Math.max(0, ms), () => resolve());
        signal?.addEventListener("abort", () => {
          e.fn = null;
          resolve();
        }, { once: true });
      }),
  };
  const checks = o.checks ?? 1;
  const targets: Item[] = checks === 1 && o.checks === undefined
    ? [{ host: "svc", test: "http" }]
    : Array.from({ length: checks }, (_, i) => ({ host: `h${i}`, test: "tcp" }));
  const deliveries: Delivery[] = [];
  const lat = (a?: string, b?: string) => {
    const [lo, hi] = (a !== undefined && b !== undefined ? o.linkLatencyMs?.(a, b) : null) ??
      o.latencyMs;
    return lo + rand() * (hi - lo);
  };
  const nodes = new Map<string, SimNode>();
  const result = (n: string, host: string, test: string, t: number): CheckResult => {
    const status = o.service(n, t, host);
    return {
      host,
      test,
      status,
      state: status,
      output: "",
      perfdata: "",
      exitCode: null,
      startedAt: t,
      durationMs: 0,
    };
  };

  /**
   * One request from `from` to `to`: resolves at the virtual time its answer arrives, with what
   * `handle` computed when `to` served it, or a failure (dead, cut off, busy, late).
   */
  const request = <R>(
    from: SimNode,
    to: string,
    size: number,
    deadlineMs: number,
    handle: (peer: SimNode, t: number) => R[],
  ): Promise<SendOutcome<R>> => {
    requests++;
    const start = now;
    const p = nodes.get(to)!;
    const trace = Deno.env.get("DMONITOR_SIM_TRACE") !== undefined;
    if (trace) console.log(Math.round(now), from.name, "->", to, "request", size, deadlineMs);
    return new Promise<SendOutcome<R>>((resolve) => {
      const at = (t: number, out: () => SendOutcome<R>) =>
        agenda.push(Math.min(t, start + deadlineMs), () => {
          const r = t <= start + deadlineMs
            ? out()
            : { ok: false as const, error: "deadline exceeded" };
          if (trace) console.log(Math.round(now), from.name, "<-", to, r.ok ? "ok" : r.error);
          resolve(r);
        });
      if (!p.alive) return at(start + 1, () => ({ ok: false, error: "connection refused" }));
      if (!link(from.name, to, start)) {
        return at(start + deadlineMs, () => ({ ok: false, error: "deadline exceeded" }));
      }
      const arrive = start + lat(from.name, to);
      const inc = p.incarnation;
      agenda.push(arrive, () => {
        if (!p.alive || p.incarnation !== inc) {
          return at(arrive + lat(from.name, to), () => ({ ok: false, error: "connection reset" }));
        }
        if (o.busy?.(to, arrive)) {
          refused++;
          const retryAfterMs = o.retryAfterMs ?? 1000;
          return at(
            arrive + lat(from.name, to),
            () => ({ ok: false, error: "busy", retryAfterMs }),
          );
        }
        const served = Math.max(arrive, p.freeAt) + size * (o.perItemMs ?? 0);
        p.freeAt = served;
        agenda.push(served, () => {
          if (!p.alive || p.incarnation !== inc) {
            return at(
              served + lat(from.name, to),
              () => ({ ok: false, error: "connection reset" }),
            );
          }
          const results = handle(p, served);
          at(served + lat(from.name, to), () => ({ ok: true, results }));
        });
      });
    });
  };

  const answer = (p: SimNode, it: Item, t: number): LocalAnswer =>
    p.engine.answer(it.host, it.test, result(p.name, it.host, it.test, t));

  const queuesFor = (n: SimNode): Map<string, Queues> => {
    const m = new Map<string, Queues>();
    for (const peer of o.nodes) {
      if (peer === n.name) continue;
      const label = `${peer}:2929`;
      const unreachable = (error: string): PeerAnswer => ({
        peer: label,
        node: null,
        vote: { node: label, status: "UNREACHABLE", output: error, at: now },
        incident: null,
        error,
        latencyMs: 0,
      });
      const common = {
        maxItems: PEER_QUEUES.maxItems,
        maxBytes: PEER_QUEUES.maxBytes,
        sizeOf: (i: Item) => i.host.length + i.test.length + 48,
        lingerMs: lingerFor(o.intervalMs),
        clock,
        fail: (_i: Item, e: string) => unreachable(e),
      };
      const asker = (mode: "confirm" | "view") =>
        new BatchQueue<Item, PeerAnswer>({
          ...common,
          maxInFlight: PEER_QUEUES[mode].maxInFlight,
          send: (items, deadlineMs) => {
            const t0 = now;
            byKind[mode]++;
            return request(n, peer, items.length, deadlineMs, (p, t) =>
              items.map((it): PeerAnswer => {
                const a = answer(p, it, t);
                return {
                  peer: label,
                  node: p.name,
                  vote: { node: p.name, status: a.status, output: a.output, at: a.at },
                  incident: a.incident === null ? null : structuredClone(a.incident),
                  latencyMs: t - t0,
                };
              }));
          },
        });
      m.set(peer, {
        confirm: asker("confirm"),
        view: asker("view"),
        incident: new BatchQueue<IncidentView, null | string>({
          ...common,
          sizeOf: (v) => JSON.stringify(v).length,
          maxInFlight: PEER_QUEUES.incident.maxInFlight,
          fail: (_v, e) => e,
          send: (views, deadlineMs) => {
            byKind.incident++;
            return request(n, peer, views.length, deadlineMs, (p) =>
              views.map((v) => {
                p.engine.hear(v.host, v.test, structuredClone(v)).catch(() => {});
                return null;
              }));
          },
        }),
      });
    }
    return m;
  };

  const boot = (n: SimNode): void => {
    const inc = n.incarnation;
    const live = () => n.alive && n.incarnation === inc;
    n.queues = queuesFor(n);
    const qs = [...n.queues.values()];
    n.engine = new IncidentEngine({
      self: n.name,
      peers: o.nodes.filter((x) => x !== n.name).map((x) => `${x}:2929`),
      rule: o.rule,
      timing: o.timing,
      clock,
      log: Deno.env.get("DMONITOR_SIM_TRACE")
        ? createLogger({ min: "debug", write: (l) => console.log(Math.round(now), n.name, l) })
        : quiet,
      ask: (host, test, mode, _since, deadlineMs) =>
        Promise.all(qs.map((q) =>
          q[mode].push(
            { host, test },
            mode === "confirm"
              ? o.confirmDeadlineMs
              : Math.min(o.viewDeadlineMs, deadlineMs ?? Infinity),
          )
        )),
      // As lib/peers does: the notice waits for the first peer that took it in.
      announce: async (_h, _t, view) => {
        if (Deno.env.get("DMONITOR_SIM_TRACE")) {
          console.log(Math.round(now), n.name, "announce", JSON.stringify(view.incident?.down));
        }
        await firstTakenIn(qs.map((q) => q.incident.push(view, o.viewDeadlineMs)));
      },
      ...(o.settleFor ? { settle: () => o.settleFor!(n.name, now) } : {}),
      notifier: {
        notify: (x) => {
          // A node killed mid-round has no notifier any more.
          if (!live()) return Promise.reject(new Error("dead"));
          deliveries.push({ at: now, node: n.name, n: structuredClone(x) });
          return Promise.resolve();
        },
      },
      save: (s) => {
        if (live()) n.saved.set(`${s.host}\0${s.test}`, structuredClone(s));
      },
      ...(o.heartbeat === false ? {} : {
        beat: (peer: string) => n.beats.get(peer.replace(/:2929$/, "")) ?? null,
      }),
    });
  };

  for (const name of o.nodes) {
    const n: SimNode = {
      name,
      alive: true,
      incarnation: 0,
      engine: undefined as unknown as IncidentEngine,
      saved: new Map(),
      freeAt: 0,
      queues: new Map(),
      beats: new Map(),
    };
    nodes.set(name, n);
    boot(n);
  }

  for (const n of nodes.values()) {
    for (const it of targets) {
      const offset = Math.floor(rand() * o.intervalMs);
      const tick = (t: number) => {
        agenda.push(t, () => {
          if (n.alive) {
            n.engine.round(it.host, it.test, result(n.name, it.host, it.test, now)).catch(() => {});
          }
          if (t + o.intervalMs < o.endMs) tick(t + o.intervalMs);
        });
      };
      tick(offset);
    }
  }
  if (o.heartbeat !== false) {
    // The heartbeat (lib/node/consensus.ts HEARTBEAT_MS): a direct ping, not behind the batches.
    const beat = (t: number) => {
      agenda.push(t, () => {
        for (const n of nodes.values()) {
          if (!n.alive) continue;
          for (const p of nodes.values()) {
            if (p === n) continue;
            const old = n.beats.get(p.name);
            const ok = p.alive && link(n.name, p.name, now) && link(p.name, n.name, now);
            n.beats.set(
              p.name,
              ok ? { lastOkAt: now, unreachableSince: null } : {
                lastOkAt: old?.lastOkAt ?? null,
                unreachableSince: old?.unreachableSince ?? now,
              },
            );
          }
        }
        if (t + 2000 < o.endMs) beat(t + 2000);
      });
    };
    beat(2000);
  }
  for (const k of o.kills ?? []) {
    agenda.push(k.at, () => {
      const n = nodes.get(k.node)!;
      n.alive = false;
      n.incarnation++;
      n.engine.close();
      for (const q of n.queues.values()) {
        q.confirm.close();
        q.view.close();
        q.incident.close();
      }
    });
    if (k.restartAt !== undefined) {
      agenda.push(k.restartAt, () => {
        const n = nodes.get(k.node)!;
        n.alive = true;
        n.incarnation++;
        n.freeAt = now;
        boot(n);
        // What the node does on start: restore the persisted states, re-examine open ones.
        n.engine.restore([...n.saved.values()]);
      });
    }
  }

  while (agenda.size > 0 && agenda.peek() <= o.endMs) {
    now = agenda.peek();
    // Everything due at this instant, then let the engines run until they wait on time again.
    let ran = false;
    while (agenda.size > 0 && agenda.peek() === now) {
      const fn = agenda.pop().fn;
      if (fn) {
        fn();
        ran = true;
      }
    }
    if (ran) await drain();
  }
  for (const n of nodes.values()) n.engine.close();
  await drain();
  const first = `${targets[0]!.host}\0${targets[0]!.test}`;
  const states = new Map<string, IncidentState>();
  for (const [name, n] of nodes) {
    const s = n.engine.states().find((x) => `${x.host}\0${x.test}` === first);
    if (s) states.set(name, s);
  }
  return { deliveries, states, requests, refused, byKind };
}
