/**
 * Builders shared by the quorum tests (not part of the public surface).
 * @module
 */
import type { IncidentView, Notice, PeerInfo, VoteStatus } from "./types.ts";

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
