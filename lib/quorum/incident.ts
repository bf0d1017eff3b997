/**
 * The incident state machine of one host+test on one node: `nextIncident(state, event, ctx, now)`
 * returns the next state and the effects to apply (ask the peers, notify, wake me later, log).
 * Pure: no I/O, no clock; the shell in engine.ts performs the effects and feeds results back.
 * @module
 */
import type { Fields } from "../log/mod.ts";
import type { QuorumRule } from "../config/types.ts";
import type { IncidentState, IncidentView, Notification, PeerInfo, Vote } from "./types.ts";
import { decideQuorum, isFailingVote } from "./quorum.ts";
import {
  close,
  deliver,
  enter,
  hear,
  log,
  markDelivered,
  planNotices,
  remind,
  startClaim,
  undelivered,
} from "./notices.ts";
import { cloneData } from "./clone.ts";

export { noticeId } from "./notices.ts";

/** Timings of the protocol, in ms. */
export interface QuorumTiming {
  /** How long a claim is visible before its holder may commit. Must exceed the view round's
   * deadline, or a node with a hanging peer could never commit. */
  settleMs: number;
  /** How long a peer must have been silent before it no longer blocks a commit and its claims
   * or undelivered notices are taken over. */
  handoverMs: number;
  /** How long a peer that answers its heartbeat but not the rounds keeps blocking a commit (see
   * `withProofOfLife`): the bound on what a live but stuck peer can delay a notice by. Default
   * 5x `handoverMs`. */
  stuckMs?: number;
  /** Anti-flap: recovery needs a quorum passing in two fresh confirm rounds started at least
   * this long apart (the second is asked for by a timer, peers run their check again), with no
   * quorum failing in between. */
  recoverHoldMs: number;
  /** Reminder interval while down; 0 disables reminders. */
  remindMs: number;
}

export interface IncidentContext {
  self: string;
  /** Configured nodes, counting this one. */
  nodesTotal: number;
  rule: QuorumRule;
  timing: QuorumTiming;
  /** Settle time for a claim made now, from measured round trips (`settleFor`); at most
   * `timing.settleMs`, which it defaults to. */
  settleMs?: number;
}

export type IncidentEvent =
  /** A local check result (the vote already says UNKNOWN when degraded). */
  | { type: "check"; vote: Vote }
  /** A round finished: `confirm` asked every peer to check; `view` only asked for their state. */
  | {
    type: "round";
    mode: "confirm" | "view";
    startedAt: number;
    self: Vote | null;
    peers: PeerInfo[];
  }
  /** A timer requested by a `wake` effect fired. */
  | { type: "wake" }
  /** The notifier accepted the notification with this id. */
  | { type: "delivered"; id: string }
  /** The notifier rejected it; it is retried on the next event. */
  | { type: "undelivered"; id: string; error: string }
  /** A peer announced its state (it committed or delivered a notice). */
  | { type: "heard"; view: IncidentView };

export type Effect =
  /** `since`: peers answer from a result taken at or after it (default `self.at`). */
  | { type: "ask"; mode: "confirm" | "view"; self: Vote | null; since?: number }
  | { type: "wake"; at: number }
  | { type: "notify"; notification: Notification }
  /** Push this node's view to every peer (after a commit, before delivering; after delivery). */
  | { type: "announce" }
  | { type: "log"; level: "debug" | "info" | "warn"; msg: string; fields?: Fields };

export interface Step {
  state: IncidentState;
  effects: Effect[];
}

/** A fresh state: phase ok, nothing known. */
export function initialIncident(host: string, test: string, now: number): IncidentState {
  return {
    host,
    test,
    phase: "ok",
    claim: null,
    incident: null,
    closed: null,
    since: now,
    claimedAt: null,
    votes: [],
    reminders: 0,
    heard: null,
  };
}

/** The part of a state a node publishes to its peers. */
export function toView(s: IncidentState): IncidentView {
  return {
    host: s.host,
    test: s.test,
    phase: s.phase,
    claim: s.claim,
    ...(s.claim !== null ? { settleMs: s.settleMs ?? null } : {}),
    incident: s.incident,
    closed: s.closed,
  };
}

/** Advances one host+test by one event. */
export function nextIncident(
  prev: IncidentState,
  event: IncidentEvent,
  ctx: IncidentContext,
  now: number,
): Step {
  const s: IncidentState = cloneData(prev);
  const fx: Effect[] = [];
  const open = s.phase === "down" || s.phase === "recovering" || s.phase === "recovered";
  switch (event.type) {
    case "check": {
      const failing = isFailingVote(event.vote.status);
      if (s.phase === "ok" && !failing) {
        // This node sees it pass: whatever was announced is over or not its business.
        s.heard = null;
        break;
      }
      if ((s.phase === "local-only" || s.phase === "unconfirmed") && !failing) {
        enter(s, "ok", now);
        // Say what happened: a degraded node's failure votes UNKNOWN, it did not pass.
        fx.push(
          event.vote.status === "OK" ? log("info", "local check passes again") : log(
            "info",
            "local failure no longer counted: this node is degraded (no peer reachable)",
            {
              vote: event.vote.status,
            },
          ),
        );
        break;
      }
      if (s.phase === "ok") enter(s, "suspect", now);
      // Claim ahead of the verdict, so the settle time runs during the confirm round: a failure
      // with nothing open may be an outage to notify; any check while down, its recovery (the
      // peers check anew, and may find it back before this node does).
      if (ctx.nodesTotal > 1 && s.claim === null) {
        if (failing && s.incident === null) startClaim(s, "down", now, ctx);
        else if (
          s.phase === "down" && s.incident?.down != null && s.incident.recovered === null
        ) startClaim(s, "recovered", now, ctx);
      }
      fx.push({ type: "ask", mode: "confirm", self: event.vote });
      break;
    }
    case "wake":
      if (s.phase === "recovering" && now - s.since >= ctx.timing.recoverHoldMs) {
        // The second fresh round of the recovery: peers check again now, this node votes its
        // latest result (a newer failure would have started a round of its own).
        fx.push({ type: "ask", mode: "confirm", self: ownVote(s, ctx, now), since: now });
      } else if (open || s.claim !== null || undelivered(s, ctx).length > 0) {
        fx.push({ type: "ask", mode: "view", self: null });
      }
      break;
    case "delivered":
      if (markDelivered(s, event.id, now) && ctx.nodesTotal > 1) fx.push({ type: "announce" });
      remind(s, ctx, now, fx);
      return { state: s, effects: fx };
    case "heard":
      hear(s, event.view);
      // The recovery we were about to agree on was just committed by the announcer.
      if (s.phase === "recovered" && s.incident?.recovered) {
        close(s, now);
        fx.push(log("info", "recovery notice sent by a peer", { by: s.closed?.recovered?.by }));
      }
      return { state: s, effects: fx };
    case "undelivered":
      fx.push(log("warn", "notifier failed, will retry", { id: event.id, error: event.error }));
      fx.push({ type: "wake", at: now + ctx.timing.settleMs });
      return { state: s, effects: fx };
    case "round":
      if (event.mode === "confirm" && event.self !== null) {
        const votes = [event.self, ...event.peers.map((p) => p.vote)];
        applyVerdict(s, votes, ctx, event.startedAt, now, fx);
      }
      planNotices(s, event.peers, event.startedAt, ctx, now, fx);
      break;
  }
  if (event.type === "round") deliver(s, event.peers, ctx, now, fx);
  return { state: s, effects: fx };
}

/** This node's latest vote (from its last confirm round), for a round a timer started. */
function ownVote(s: IncidentState, ctx: IncidentContext, now: number): Vote {
  return s.votes.find((v) => v.node === ctx.self) ??
    { node: ctx.self, status: "UNKNOWN", output: "no local result yet", at: now };
}

/** Phase transitions driven by a confirm round's votes (the round started at `startedAt`). */
function applyVerdict(
  s: IncidentState,
  votes: Vote[],
  ctx: IncidentContext,
  startedAt: number,
  now: number,
  fx: Effect[],
): void {
  const d = decideQuorum(votes, ctx.rule, ctx.nodesTotal, ctx.self);
  s.votes = votes;
  const fields = { failing: d.failing.join(","), needed: d.needed, passing: d.passing.join(",") };
  switch (s.phase) {
    case "ok":
    case "suspect":
    case "local-only":
    case "unconfirmed":
      if (d.verdict === "down") {
        enter(s, "down", now);
        s.incident = {
          id: `${s.host}/${s.test}/${now}/${ctx.self}`,
          startedAt: now,
          endedAt: null,
          down: null,
          recovered: null,
        };
        s.reminders = 0;
        fx.push(log("warn", "outage confirmed by quorum", fields));
      } else if (d.verdict === "up") {
        enter(s, "ok", now);
      } else if (s.phase !== d.verdict) {
        enter(s, d.verdict, now);
        fx.push(
          d.verdict === "local-only"
            ? log("warn", "this node's view differs: peers do not confirm the failure", fields)
            : log("info", "failure unconfirmed: too few peers answered", fields),
        );
      }
      return;
    case "down":
      if (d.quorumUp) {
        // `since` is when this round started: the hold runs from when the peers checked.
        enter(s, "recovering", startedAt);
        if (s.incident) s.incident.endedAt = now;
        const inc = s.incident;
        if (
          ctx.nodesTotal > 1 && s.claim === null && inc?.down != null && inc.recovered === null
        ) startClaim(s, "recovered", now, ctx);
        // The second fresh round once the hold is over (and the claim has settled, so that round
        // can commit): not the next scheduled check, an interval away.
        const settled = s.claim === "recovered" && s.claimedAt !== null
          ? s.claimedAt + (s.settleMs ?? ctx.timing.settleMs)
          : 0;
        fx.push({ type: "wake", at: Math.max(startedAt + ctx.timing.recoverHoldMs, settled) });
        fx.push(log("info", "quorum sees it passing again, confirming recovery", {
          ...fields,
          hold_ms: ctx.timing.recoverHoldMs,
        }));
      }
      return;
    case "recovering":
    case "recovered":
      if (d.verdict === "down") {
        enter(s, "down", now);
        if (s.incident) s.incident.endedAt = null;
        fx.push(log("warn", "failing again before recovery was confirmed", fields));
      } else if (s.phase === "recovering" && d.quorumUp) {
        if (startedAt - s.since >= ctx.timing.recoverHoldMs) {
          enter(s, "recovered", now);
          fx.push(log("info", "recovery confirmed by quorum", fields));
        } else fx.push({ type: "wake", at: s.since + ctx.timing.recoverHoldMs });
      }
      return;
  }
}
