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

/** What the heartbeat knows of a peer: its last answer, and its first failure since then. */
export interface BeatHealth {
  lastOkAt: number | null;
  unreachableSince: number | null;
}

/**
 * When each silent peer's silence began, from every contact this node has with it: the rounds
 * (`table`, the answers in `infos`) and the heartbeat (`beat`), which runs whether or not a check
 * fails. A silence starts at the first failed contact after the latest answer of either kind:
 *
 * - A peer whose heartbeat answered (busy or not) after its last round answer is slow, not gone:
 *   it may hold a claim or notice this node cannot see, so it keeps blocking a commit instead of
 *   being handed over from (a mass failure makes every peer slow, and treating slow as gone is how
 *   two nodes would both notify). It counts as silent from its last heartbeat answer, or from the
 *   heartbeat's first failure after it; but a peer alive by its heartbeat and silent in the rounds
 *   for `stuckMs` no longer holds anyone back (the stated bound on what it can delay a notice by).
 * - A peer that never answered anything since this node started is silent since the first failed
 *   contact of either kind: a peer cut off since before the outage began (its heartbeat failing
 *   all along) is already absent when the first round runs, instead of costing a hand-over delay.
 * @example
 * // silent since 1000 in the rounds, heartbeat answered at 5000: silent since 5000
 * withProofOfLife(infos, table, () => ({ lastOkAt: 5000, unreachableSince: null }), 6000, 60_000);
 */
export function withProofOfLife(
  infos: readonly PeerInfo[],
  table: HealthTable,
  beat: (peer: string) => BeatHealth | null,
  now: number,
  stuckMs: number,
): PeerInfo[] {
  return infos.map((p) => {
    if (p.vote.status !== "UNREACHABLE" || p.unreachableSince === null) return p;
    const b = beat(p.peer);
    if (b === null) return p;
    const roundOk = table[p.peer]?.lastOkAt ?? null;
    let since = p.unreachableSince;
    if (b.lastOkAt !== null && (roundOk === null || b.lastOkAt > roundOk)) {
      // Alive by the heartbeat after its last round answer.
      if (now - p.unreachableSince >= stuckMs && p.unreachableSince <= b.lastOkAt) return p;
      since = b.unreachableSince ?? b.lastOkAt;
    } else if (b.lastOkAt === null && roundOk === null && b.unreachableSince !== null) {
      since = Math.min(since, b.unreachableSince);
    }
    return since === p.unreachableSince ? p : { ...p, unreachableSince: since };
  });
}
