/**
 * Wires the peer client to the consensus engine: the `ask` and `announce` functions that
 * `IncidentEngine` takes. Every host/test pair goes through a per-peer coalescing queue
 * (lib/quorum/batch.ts) and leaves in a batch request (`/v1/batch/confirm`, `/view`,
 * `/incident`), so a mass failure costs a bounded number of requests per peer, and a busy peer's
 * Retry-After is honoured instead of answered with more requests.
 * @module
 */
import type { Peer } from "../config/types.ts";
import type { Logger } from "../log/mod.ts";
import { type Clock, nextTurn, systemClock } from "../clock/mod.ts";
import type { AskFn } from "../quorum/engine.ts";
import { firstTakenIn } from "../quorum/acks.ts";
import { BatchQueue, type BatchStats, PEER_QUEUES, type SendOutcome } from "../quorum/batch.ts";
import type { IncidentView, LocalAnswer, PeerAnswer } from "../quorum/types.ts";
import {
  announceBatch,
  callPeer,
  confirmBatch,
  PeerBusyError,
  type PeerClientOptions,
  peerLabel,
  pingPeer,
  viewBatch,
} from "./client.ts";
import { importPeerKey } from "./auth.ts";
import type { TargetRequest } from "./wire.ts";

export interface PeerRpcOptions extends Omit<PeerClientOptions, "deadlineMs" | "key" | "clock"> {
  key: string;
  /** Deadline of a confirm round (peers run their check): a little above the check timeout. */
  confirmDeadlineMs: number;
  /** Deadline of view rounds and announcements. Must stay below the settle time. */
  viewDeadlineMs: number | (() => number);
  log: Logger;
  clock?: Clock;
  /** How long an idle queue waits for more items before sending (default 2 ms; the node uses
   * `lingerFor(interval)`). */
  lingerMs?: number;
  /** Why a peer is known gone (its heartbeat has failed for a while), or null: gone peers are
   * answered UNREACHABLE at once instead of being waited for (default: never gone). */
  gone?: (label: string) => string | null;
}

const MAX_BATCH_BYTES = PEER_QUEUES.maxBytes;
/** Items of one batch handled per turn of the event loop (here and in the batch routes). */
export const SETTLE_CHUNK = 50;

/** What the engine needs, plus what the node shows about each peer. */
export interface PeerRpc {
  /** Signed calls to one peer by its label, with this node's key and TLS (other parts' routes). */
  call(
    label: string,
    method: "GET" | "POST",
    path: string,
    payload: unknown,
    o: { deadlineMs: number; maxReplyBytes?: number },
  ): Promise<{ node: string; json: unknown }>;
  ask: AskFn;
  /** Pushes a view to every peer not known gone; resolves once one took it in, or none could. */
  announce: (host: string, test: string, view: IncidentView) => Promise<void>;
  /** Smoothed round trip of quick batch requests (views, announcements), per peer label; absent
   * until one succeeded. */
  rtt(): Map<string, number>;
  /** Requests and items sent per peer and kind, for metrics and benches. */
  stats(): Record<string, Record<"confirm" | "view" | "incident", BatchStats>>;
  /** Pings every peer once (the heartbeat), within `deadlineMs`. */
  heartbeat(deadlineMs: number): Promise<Beat[]>;
  /** Resolves everything still queued as failed. */
  close(): void;
}

/** One peer's answer to a heartbeat. */
export interface Beat {
  peer: string;
  /** The name it signed as; null when it did not answer. */
  node: string | null;
  error: string | null;
  rttMs: number | null;
  /** The peer's signed reply (null when it did not answer). */
  reply: unknown;
}

interface AskItem extends TargetRequest {
  /** Epoch ms of the asker's result that started the round (confirm only). */
  since: number | null;
}

interface PeerQueues {
  confirm: BatchQueue<AskItem, PeerAnswer>;
  view: BatchQueue<AskItem, PeerAnswer>;
  incident: BatchQueue<IncidentView, string | null>;
}

/** The engine's `ask` and `announce`, over the authenticated peer protocol, batched per peer. */
export function createPeerRpc(peers: readonly Peer[], o: PeerRpcOptions): PeerRpc {
  const clock = o.clock ?? systemClock;
  const key = importPeerKey(o.key);
  const viewDeadline = typeof o.viewDeadlineMs === "function"
    ? o.viewDeadlineMs
    : ((ms: number) => () => ms)(o.viewDeadlineMs);
  const opts = async (deadlineMs: number) => ({
    ...o,
    clock: () => clock.now(),
    key: await key,
    cryptoKey: await key,
    deadlineMs,
  });
  const rtts = new Map<string, number>();
  const sample = (label: string, ms: number) => {
    const old = rtts.get(label);
    rtts.set(label, old === undefined ? ms : 0.8 * old + 0.2 * ms);
  };
  const lingerMs = o.lingerMs ?? 2;
  const queues = new Map<string, PeerQueues>();

  for (const peer of peers) {
    const label = peerLabel(peer);
    const unreachable = (error: string): PeerAnswer => ({
      peer: label,
      node: null,
      vote: { node: label, status: "UNREACHABLE", output: error, at: clock.now() },
      incident: null,
      error,
      latencyMs: 0,
    });
    const answered = (node: string, a: LocalAnswer, latencyMs: number): PeerAnswer => ({
      peer: label,
      node,
      vote: { node, status: a.status, output: a.output, at: a.at },
      incident: a.incident,
      latencyMs,
    });
    const failure = <R>(err: unknown): SendOutcome<R> => {
      const cause = (err as { cause?: unknown }).cause;
      if (cause instanceof PeerBusyError) {
        return { ok: false, error: cause.message, retryAfterMs: cause.retryAfterMs };
      }
      return { ok: false, error: err instanceof Error ? err.message : String(err) };
    };
    const targetSize = (i: TargetRequest) => i.host.length + i.test.length + 48;
    // What the three queues share: batch limits, how long an idle queue gathers, the clock.
    // A reply's items resume their rounds SETTLE_CHUNK at a time, a turn of the event loop apart.
    const shared = {
      maxItems: PEER_QUEUES.maxItems,
      maxBytes: MAX_BATCH_BYTES,
      lingerMs,
      clock,
      settleChunk: { items: SETTLE_CHUNK, between: nextTurn },
    };
    queues.set(label, {
      confirm: new BatchQueue<AskItem, PeerAnswer>({
        maxInFlight: PEER_QUEUES.confirm.maxInFlight,
        ...shared,
        sizeOf: targetSize,
        fail: (_i, error) => unreachable(error),
        send: async (items, deadlineMs) => {
          const t0 = clock.now();
          // Leave the answer time to travel back: the peer answers what it has by then.
          const margin = Math.min(deadlineMs / 2, 2 * (rtts.get(label) ?? 100) + 100);
          const now = clock.now();
          const wire = items.map((i) => ({
            host: i.host,
            test: i.test,
            maxAgeMs: i.since === null ? 0 : Math.min(86_400_000, Math.max(0, now - i.since)),
          }));
          try {
            const r = await confirmBatch(peer, wire, deadlineMs - margin, await opts(deadlineMs));
            const ms = clock.now() - t0;
            return { ok: true, results: r.answers.map((a) => answered(r.node, a, ms)) };
          } catch (err) {
            return failure(err);
          }
        },
      }),
      view: new BatchQueue<AskItem, PeerAnswer>({
        maxInFlight: PEER_QUEUES.view.maxInFlight,
        ...shared,
        sizeOf: targetSize,
        fail: (_i, error) => unreachable(error),
        send: async (items, deadlineMs) => {
          const t0 = clock.now();
          try {
            const r = await viewBatch(peer, items, await opts(deadlineMs));
            const ms = clock.now() - t0;
            sample(label, ms);
            return { ok: true, results: r.answers.map((a) => answered(r.node, a, ms)) };
          } catch (err) {
            return failure(err);
          }
        },
      }),
      incident: new BatchQueue<IncidentView, string | null>({
        maxInFlight: PEER_QUEUES.incident.maxInFlight,
        ...shared,
        sizeOf: (v) => JSON.stringify(v).length + 1,
        fail: (_v, error) => error,
        send: async (views, deadlineMs) => {
          const t0 = clock.now();
          try {
            await announceBatch(peer, views, await opts(deadlineMs));
            sample(label, clock.now() - t0);
            return { ok: true, results: views.map(() => null) };
          } catch (err) {
            const out = failure<string | null>(err);
            // One line per failed request, not per announcement.
            if (!out.ok && out.retryAfterMs === undefined) {
              o.log.info("announcements not delivered", {
                peer: label,
                count: views.length,
                error: out.error,
              });
            }
            return out;
          }
        },
      }),
    });
  }

  const all = [...queues.entries()];
  const goneAnswer = (label: string, why: string): PeerAnswer => ({
    peer: label,
    node: null,
    vote: { node: label, status: "UNREACHABLE", output: why, at: clock.now() },
    incident: null,
    error: why,
    latencyMs: 0,
  });
  return {
    ask: (host, test, mode, since, deadlineMs) => {
      const item: AskItem = { host, test, since: since ?? null };
      const deadline = mode === "confirm"
        ? o.confirmDeadlineMs
        : Math.min(viewDeadline(), deadlineMs ?? Infinity);
      return Promise.all(all.map(([label, q]) => {
        // A peer the heartbeat finds gone is not waited for: a round costs its deadline only
        // for peers that may answer.
        const why = o.gone?.(label) ?? null;
        return why === null ? q[mode].push(item, deadline) : goneAnswer(label, why);
      }));
    },
    // Resolves once one peer took it in (the others learn it from that peer's answers), so the
    // notice waits for the fastest peer, never for a slow or unreachable one.
    announce: async (host, test, view) => {
      const deadline = viewDeadline();
      await firstTakenIn(
        all.filter(([label]) => (o.gone?.(label) ?? null) === null)
          .map(([, q]) => q.incident.push({ ...view, host, test }, deadline)),
      );
    },
    rtt: () => new Map(rtts),
    call: async (label, method, path, payload, c) => {
      const peer = peers.find((p) => peerLabel(p) === label);
      if (!peer) throw new Error(`no peer ${label} in nodes.txt`);
      return await callPeer(peer, method, path, payload, {
        ...(await opts(c.deadlineMs)),
        ...(c.maxReplyBytes ? { maxReplyBytes: c.maxReplyBytes } : {}),
      });
    },
    heartbeat: async (deadlineMs) => {
      const o2 = await opts(deadlineMs);
      return await Promise.all(peers.map(async (peer): Promise<Beat> => {
        const label = peerLabel(peer);
        const t0 = clock.now();
        try {
          const { node, json } = await pingPeer(peer, o2);
          const rttMs = clock.now() - t0;
          sample(label, rttMs);
          return { peer: label, node, error: null, rttMs, reply: json };
        } catch (err) {
          const busy = (err as { cause?: unknown }).cause instanceof PeerBusyError;
          // A busy peer answered: it is reachable.
          if (busy) {
            return { peer: label, node: null, error: null, rttMs: clock.now() - t0, reply: null };
          }
          return {
            peer: label,
            node: null,
            error: err instanceof Error ? err.message : String(err),
            rttMs: null,
            reply: null,
          };
        }
      }));
    },
    stats: () =>
      Object.fromEntries(
        [...queues].map(([label, q]) => [label, {
          confirm: { ...q.confirm.stats },
          view: { ...q.view.stats },
          incident: { ...q.incident.stats },
        }]),
      ),
    close: () => {
      for (const [, q] of all) {
        for (const k of ["confirm", "view", "incident"] as const) q[k].close();
      }
    },
  };
}
