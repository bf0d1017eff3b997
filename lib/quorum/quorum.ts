/**
 * The verdict of one round of votes: pure functions of the votes, the quorum rule and the cluster
 * size. Nothing here reads a clock or does I/O.
 * @module
 */
import type { QuorumRule } from "../config/types.ts";
import type { Vote, VoteStatus } from "./types.ts";

/** True for the statuses that count as "this node saw it fail". UNKNOWN and UNREACHABLE never do. */
export function isFailingVote(status: VoteStatus): boolean {
  return status === "FAIL" || status === "TIMEOUT";
}

/**
 * How many nodes, counting this one, must see a failure. A percentage is of all configured nodes,
 * rounded up, at least 1, at most the cluster. A cluster of one node (empty nodes.txt) is
 * single-node mode: 1. (lib/config rejects a count above the node count.)
 * @example
 * quorumNeeded({ kind: "percent", percent: 50 }, 5); // 3
 */
export function quorumNeeded(rule: QuorumRule, nodesTotal: number): number {
  if (nodesTotal <= 1) return 1;
  const raw = rule.kind === "count" ? rule.count : Math.ceil((rule.percent * nodesTotal) / 100);
  return Math.min(Math.max(1, raw), nodesTotal);
}

export type Verdict = "down" | "up" | "local-only" | "unconfirmed";

export interface QuorumDecision {
  /**
   * - `down`: at least `needed` nodes saw a failure.
   * - `local-only`: this node saw a failure, not enough others did, and some peer saw it pass.
   * - `unconfirmed`: this node saw a failure, and too few peers answered to say either way.
   * - `up`: this node did not see a failure and no quorum did.
   */
  verdict: Verdict;
  /** At least `needed` nodes saw it pass and fewer than `needed` saw it fail: positive evidence of
   * recovery, whatever this node itself sees. */
  quorumUp: boolean;
  needed: number;
  failing: string[];
  passing: string[];
  /** Nodes that answered UNKNOWN or UNREACHABLE. */
  silent: string[];
}

/**
 * Decides a round. `votes` holds this node's own vote (named `self`) and one per peer.
 * @example
 * decideQuorum(votes, { kind: "count", count: 2 }, 3, "a").verdict; // "down" when 2 of 3 failed
 */
export function decideQuorum(
  votes: readonly Vote[],
  rule: QuorumRule,
  nodesTotal: number,
  self: string,
): QuorumDecision {
  const needed = quorumNeeded(rule, nodesTotal);
  const failing: string[] = [];
  const passing: string[] = [];
  const silent: string[] = [];
  let selfFailing = false;
  for (const v of votes) {
    if (isFailingVote(v.status)) {
      failing.push(v.node);
      if (v.node === self) selfFailing = true;
    } else if (v.status === "OK") passing.push(v.node);
    else silent.push(v.node);
  }
  const down = failing.length >= needed;
  const quorumUp = !down && passing.length >= needed;
  let verdict: Verdict;
  if (down) verdict = "down";
  else if (!selfFailing) verdict = "up";
  else if (passing.length > 0) verdict = "local-only";
  else verdict = "unconfirmed";
  return { verdict, quorumUp, needed, failing, passing, silent };
}

/**
 * Degraded mode: a node that reaches none of its peers and sees most of its own checks failing
 * blames its own uplink and votes UNKNOWN instead of FAIL. Never degraded without peers.
 */
export function isDegraded(
  s: { peersTotal: number; peersReachable: number; checksTotal: number; checksFailing: number },
): boolean {
  return s.peersTotal > 0 && s.peersReachable === 0 && s.checksTotal > 0 &&
    s.checksFailing * 2 > s.checksTotal;
}

/** This node's vote for a local result: its status, or UNKNOWN while degraded. */
export function localVote(
  node: string,
  result: { status: "OK" | "FAIL" | "TIMEOUT"; output: string; startedAt: number },
  degraded: boolean,
): Vote {
  if (degraded && result.status !== "OK") {
    return {
      node,
      status: "UNKNOWN",
      output: `degraded (no peer reachable): ${result.output}`,
      at: result.startedAt,
    };
  }
  return { node, status: result.status, output: result.output, at: result.startedAt };
}

/** The canonical order of node names every node agrees on: plain code-unit order, no locale. */
export function compareNodes(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
