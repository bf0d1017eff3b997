/**
 * Who sends a notice: the exactly-one-notifier rule, as pure functions of this node's claim, what
 * the peers answered in the last round, and `now`. See README.md in this folder for the argument.
 *
 * In short: among the nodes that qualify (they confirmed the outage themselves, or claim it), the
 * first in canonical name order claims the notice; a claim is visible to every peer for its
 * settle time before the claimer commits, and it commits only on a round that started after that,
 * took less than its own settle time, showed no lower-named qualifying peer and no committed
 * notice, and in which every peer either answered or had been silent for `handoverMs`. Settle
 * times differ between nodes (each derives its own from the round trips it measures): the wait
 * after a claim is the longest of this node's and of every claiming peer's in the round, which
 * is what the exactly-one argument needs (a claimer's wait at least the other's round bound).
 * @module
 */
import type { Notice, PeerInfo } from "./types.ts";
import { compareNodes } from "./quorum.ts";

/**
 * The notifier among `candidates`: the first in canonical order, skipping `passed` (notifiers that
 * were handed over from). Null when nobody qualifies.
 * @example
 * electNotifier(["c", "b", "d"], ["b"]); // "c"
 */
export function electNotifier(
  candidates: readonly string[],
  passed: readonly string[] = [],
): string | null {
  let best: string | null = null;
  for (const c of candidates) {
    if (passed.includes(c)) continue;
    if (best === null || compareNodes(c, best) < 0) best = c;
  }
  return best;
}

/** Reachability of the node named `name` as seen in the last round. `absent`: silent for at least
 * `handoverMs` (or never known by name while every unnamed peer has been). */
export function peerPresence(
  name: string,
  peers: readonly PeerInfo[],
  now: number,
  handoverMs: number,
): { state: "present" | "fresh" | "absent"; absentAt: number | null } {
  let absentAt: number | null = null;
  for (const p of peers) {
    if (p.node === name && p.vote.status !== "UNREACHABLE") {
      return { state: "present", absentAt: null };
    }
  }
  for (const p of peers) {
    if (p.vote.status !== "UNREACHABLE" || (p.node !== name && p.node !== null)) continue;
    const since = p.unreachableSince ?? now;
    if (now - since < handoverMs) absentAt = Math.max(absentAt ?? 0, since + handoverMs);
  }
  return absentAt === null ? { state: "absent", absentAt: null } : { state: "fresh", absentAt };
}

/** True when a committed notice still counts: delivered, ours, or its notifier is not absent. */
export function isNoticeLive(
  n: Notice,
  self: string,
  peers: readonly PeerInfo[],
  now: number,
  handoverMs: number,
): boolean {
  if (n.deliveredAt !== null || n.by === self) return true;
  return peerPresence(n.by, peers, now, handoverMs).state !== "absent";
}

/**
 * Picks one of two committed notices for the same incident, the same on every node: a notice that
 * handed over from the other's notifier wins; else a delivered one; else the earlier commit; else
 * the lower notifier name. Delivery and hand-over facts known by either side are kept.
 */
export function mergeNotice(a: Notice | null, b: Notice | null): Notice | null {
  if (a === null) return b;
  if (b === null) return a;
  if (a.by === b.by) {
    const deliveredAt = a.deliveredAt === null
      ? b.deliveredAt
      : b.deliveredAt === null
      ? a.deliveredAt
      : Math.min(a.deliveredAt, b.deliveredAt);
    const passed = [...new Set([...a.passed, ...b.passed])].sort(compareNodes);
    return { by: a.by, committedAt: Math.min(a.committedAt, b.committedAt), deliveredAt, passed };
  }
  if (b.passed.includes(a.by)) return b;
  if (a.passed.includes(b.by)) return a;
  if ((a.deliveredAt === null) !== (b.deliveredAt === null)) return a.deliveredAt !== null ? a : b;
  if (a.committedAt !== b.committedAt) return a.committedAt < b.committedAt ? a : b;
  return compareNodes(a.by, b.by) <= 0 ? a : b;
}

export interface ClaimInput {
  self: string;
  /** Other nodes that qualify for the notice, from this round's answers. */
  rivals: readonly string[];
  /** Notifiers handed over from: never elected again for this notice. */
  passed: readonly string[];
  /** When this node started claiming; null when it is not claiming. */
  claimedAt: number | null;
  /** Every configured peer, as answered in this round. */
  peers: readonly PeerInfo[];
  /** When the round that produced `peers` started. */
  roundStartedAt: number;
  now: number;
  /** This claim's settle time: its commit round must finish within it. */
  settleMs: number;
  /** The longest settle time advertised by a peer claiming the same notice in this round (0:
   * none). The wait after the claim is at least that. Must stay below `handoverMs`. */
  rivalSettleMs?: number;
  handoverMs: number;
}

export type ClaimPlan =
  /** Someone else is first in order: do not claim (drop a claim held). */
  | { action: "yield"; to: string }
  /** Start claiming now; come back at `wakeAt` for the final round. */
  | { action: "claim"; wakeAt: number }
  /** Keep claiming; a round that started after the settle time is needed at `wakeAt`. */
  | { action: "settle"; wakeAt: number }
  /** Keep claiming; some peers went silent recently. Decide again at `wakeAt`. */
  | { action: "blocked"; wakeAt: number; waitingFor: string[] }
  /** Commit the notice now. */
  | { action: "commit" };

/** The claim step of the exactly-one-notifier rule (pure; see the module doc). */
export function planClaim(i: ClaimInput): ClaimPlan {
  const elected = electNotifier([i.self, ...i.rivals], i.passed);
  if (elected !== i.self) return { action: "yield", to: elected ?? "" };
  // Without peers nobody else can claim: no settle needed.
  if (i.peers.length === 0) return { action: "commit" };
  const waitMs = Math.max(i.settleMs, i.rivalSettleMs ?? 0);
  if (i.claimedAt === null) return { action: "claim", wakeAt: i.now + waitMs };
  const settledAt = i.claimedAt + waitMs;
  if (i.roundStartedAt < settledAt) return { action: "settle", wakeAt: Math.max(settledAt, i.now) };
  // A slow round may show a world that is older than the settle window allows: ask again.
  if (i.now - i.roundStartedAt > i.settleMs) return { action: "settle", wakeAt: i.now };
  // Any silent peer might hold a claim or notice we have not seen. After claiming for the hand-over
  // delay, a higher peer that committed would have shown it in one of our rounds or announced it,
  // so only lower (or unnamed) peers still block: a lossy network delays the notice, never loses it.
  const patient = i.now - i.claimedAt >= i.handoverMs;
  const blockers = patient
    ? i.peers.filter((p) => p.node === null || compareNodes(p.node, i.self) < 0)
    : i.peers;
  const silent = freshlySilent(blockers, i.now, i.handoverMs);
  if (silent !== null) return { action: "blocked", ...silent };
  return { action: "commit" };
}

/**
 * Peers that did not answer and have been silent for less than `handoverMs`: they might hold a
 * claim or a notice we cannot see. Null when there are none; else who, and when the last of them
 * will count as absent.
 */
export function freshlySilent(
  peers: readonly PeerInfo[],
  now: number,
  handoverMs: number,
): { waitingFor: string[]; wakeAt: number } | null {
  const waitingFor: string[] = [];
  let wakeAt = 0;
  for (const p of peers) {
    if (p.vote.status !== "UNREACHABLE") continue;
    const since = p.unreachableSince ?? now;
    if (now - since < handoverMs) {
      waitingFor.push(p.node ?? p.peer);
      wakeAt = Math.max(wakeAt, since + handoverMs);
    }
  }
  return waitingFor.length > 0 ? { waitingFor, wakeAt } : null;
}
