/**
 * Peer reachability over time, kept across rounds and host+tests: when each peer was last heard
 * from, since when it has been silent, and the name it reported. Pure updates of a plain table.
 * @module
 */
import type { PeerAnswer, PeerInfo } from "./types.ts";

export interface PeerHealth {
  /** Address as written in nodes.txt. */
  peer: string;
  /** Last node name it reported; null until it answered once. */
  node: string | null;
  lastOkAt: number | null;
  /** First failed contact since the last good one; null while it answers. */
  unreachableSince: number | null;
  lastError: string | null;
}

/** Peer address -> health. */
export type HealthTable = Record<string, PeerHealth>;

/**
 * Turns answers that cannot be trusted for the election into UNREACHABLE: a peer reporting this
 * node's own name, or two peers reporting the same name (names must be unique in a cluster).
 */
export function sanitizeAnswers(answers: readonly PeerAnswer[], self: string): PeerAnswer[] {
  const count = new Map<string, number>();
  for (const a of answers) if (a.node !== null) count.set(a.node, (count.get(a.node) ?? 0) + 1);
  return answers.map((a) => {
    if (a.node === null) return a;
    const why = a.node === self
      ? `peer reports this node's own name "${self}": node names must be unique`
      : (count.get(a.node) ?? 0) > 1
      ? `two peers report the same node name "${a.node}": node names must be unique`
      : null;
    if (why === null) return a;
    return {
      ...a,
      node: null,
      incident: null,
      error: why,
      vote: { node: a.peer, status: "UNREACHABLE", output: why, at: a.vote.at },
    };
  });
}

/** Records a round's answers at `now`; returns the new table and the answers as the core sees them. */
export function recordAnswers(
  table: HealthTable,
  answers: readonly PeerAnswer[],
  now: number,
): { table: HealthTable; infos: PeerInfo[] } {
  const next: HealthTable = { ...table };
  const infos: PeerInfo[] = [];
  for (const a of answers) {
    const old = table[a.peer];
    const ok = a.vote.status !== "UNREACHABLE";
    const h: PeerHealth = ok
      ? { peer: a.peer, node: a.node, lastOkAt: now, unreachableSince: null, lastError: null }
      : {
        peer: a.peer,
        node: old?.node ?? null,
        lastOkAt: old?.lastOkAt ?? null,
        unreachableSince: old?.unreachableSince ?? now,
        lastError: a.error ?? a.vote.output,
      };
    next[a.peer] = h;
    const node = ok ? a.node : h.node;
    infos.push({
      ...a,
      node,
      vote: ok ? a.vote : { ...a.vote, node: node ?? a.peer },
      unreachableSince: h.unreachableSince,
    });
  }
  return { table: next, infos };
}

/** How many peers answered their last contact. */
export function reachableCount(table: HealthTable): number {
  return Object.values(table).filter((h) => h.unreachableSince === null && h.lastOkAt !== null)
    .length;
}

/**
 * A silent peer that still proves it is alive outside the rounds (its heartbeat answers, busy or
 * not) is only slow: it may hold a claim or a notice this node cannot see, so it must keep blocking
 * a commit instead of being handed over from (a mass failure makes every peer slow, and treating
 * slow as gone is how two nodes would both notify). Its silence is counted from its last proof of
 * life, so it blocks until it answers or really goes quiet; but never for longer than `stuckMs`
 * after its first unanswered round, the stated bound on how long a live but stuck peer can hold
 * back a notice.
 * @example
 * // silent since 1000 in the rounds, heartbeat answered at 5000: silent since 5000
 * withProofOfLife(infos, () => 5000, 6000, 60_000);
 */
export function withProofOfLife(
  infos: readonly PeerInfo[],
  lastAlive: (peer: string) => number | null,
  now: number,
  stuckMs: number,
): PeerInfo[] {
  return infos.map((p) => {
    if (p.vote.status !== "UNREACHABLE" || p.unreachableSince === null) return p;
    const alive = lastAlive(p.peer);
    if (alive === null || alive <= p.unreachableSince) return p;
    if (now - p.unreachableSince >= stuckMs) return p;
    return { ...p, unreachableSince: alive };
  });
}
