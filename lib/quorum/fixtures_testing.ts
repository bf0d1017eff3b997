/**
 * Test support for the consensus part: answer and notice builders, a recording notifier and a
 * seeded PRNG. Never exported from mod.ts.
 * @module
 */
import type {
  IncidentView,
  Notice,
  Notification,
  Notifier,
  PeerInfo,
  VoteStatus,
} from "./types.ts";

/** A peer answer: `peer("b", "FAIL")`, or unreachable since `since` with `peer("b", "UNREACHABLE", { since })`. */
export function peer(
  node: string,
  status: VoteStatus,
  o: { since?: number; incident?: IncidentView | null; known?: boolean; at?: number } = {},
): PeerInfo {
  const reachable = status !== "UNREACHABLE";
  return {
    peer: `${node}:2929`,
    node: reachable || o.known !== false ? node : null,
    vote: { node, status, output: "", at: o.at ?? 0 },
    incident: reachable ? o.incident ?? null : null,
    latencyMs: 1,
    unreachableSince: reachable ? null : o.since ?? 0,
  };
}

export function notice(
  by: string,
  committedAt: number,
  deliveredAt: number | null = null,
  passed: string[] = [],
): Notice {
  return { by, committedAt, deliveredAt, passed };
}

/** Records every notification it accepts; rejects the next `failNext` calls. */
export class RecordingNotifier implements Notifier {
  readonly sent: Notification[] = [];
  failNext = 0;

  notify(n: Notification): Promise<void> {
    if (this.failNext > 0) {
      this.failNext--;
      return Promise.reject(new Error(`Cannot deliver ${n.id}: recording notifier told to fail`));
    }
    this.sent.push(structuredClone(n));
    return Promise.resolve();
  }

  /** `kind host/test` of every notification, in order: handy for exact assertions. */
  summary(): string[] {
    return this.sent.map((n) => `${n.kind} ${n.host}/${n.test} by ${n.notifier}`);
  }
}

/** mulberry32: a small seeded PRNG, so every failing seed can be replayed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
