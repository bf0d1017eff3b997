/**
 * The notices of an incident: what a node learns from its peers (`adopt`, `hear`), the claim step
 * for the pending notice (`planNotices`), delivery, reminders and closing. Pure helpers of
 * `nextIncident`; see election.ts for the rule itself.
 * @module
 */
import type { Fields } from "../log/mod.ts";
import type {
  IncidentRecord,
  IncidentState,
  IncidentView,
  Notice,
  NoticeKind,
  Notification,
  PeerInfo,
} from "./types.ts";
import type { Effect, IncidentContext } from "./incident.ts";
import { freshlySilent, isNoticeLive, mergeNotice, peerPresence, planClaim } from "./election.ts";
import { cloneData } from "./clone.ts";

/** Notification id of a notice: the same on every node that might send it. */
export function noticeId(incidentId: string, kind: NoticeKind | "reminder", n?: number): string {
  return kind === "reminder" ? `${incidentId}/reminder/${n}` : `${incidentId}/${kind}`;
}

export function enter(s: IncidentState, phase: IncidentState["phase"], now: number): void {
  s.phase = phase;
  s.since = now;
}

export function log(level: "debug" | "info" | "warn", msg: string, fields?: Fields): Effect {
  return { type: "log", level, msg, fields };
}

/** The settle time of a claim made now: what the shell measured, at most the configured one. */
export function claimSettle(ctx: IncidentContext): number {
  return Math.min(ctx.timing.settleMs, ctx.settleMs ?? ctx.timing.settleMs);
}

/**
 * Starts claiming `kind`, with the settle time of a claim made now. Also called ahead of the
 * verdict (a failing check with nothing open, a passing one while down): a claim visible earlier
 * only makes peers yield sooner, so the settle time overlaps the confirm round instead of
 * following it.
 */
export function startClaim(
  s: IncidentState,
  kind: NoticeKind,
  now: number,
  ctx: IncidentContext,
): void {
  s.claim = kind;
  s.claimedAt = now;
  s.settleMs = claimSettle(ctx);
}

export function dropClaim(s: IncidentState): void {
  s.claim = null;
  s.claimedAt = null;
  delete s.settleMs;
}

/**
 * Delivers own committed notices: at once when committed in this step, else (a retry, or a node
 * back from a crash) only after a round in which every peer answered or has been silent for the
 * hand-over delay, since another node may have taken the notice over meanwhile; the merge in
 * `planNotices` has then already dropped it.
 */
export function deliver(
  s: IncidentState,
  peers: PeerInfo[],
  ctx: IncidentContext,
  now: number,
  fx: Effect[],
): void {
  const pending = undelivered(s, ctx);
  if (pending.length === 0) return;
  const silent = freshlySilent(peers, now, ctx.timing.handoverMs);
  for (const [n, notice] of pending) {
    if (notice.committedAt === now || silent === null) {
      fx.push({ type: "notify", notification: n });
    } else {
      fx.push(log("info", "waiting for silent peers before delivering again", {
        id: n.id,
        peers: silent.waitingFor.join(","),
      }));
      fx.push({ type: "wake", at: silent.wakeAt });
    }
  }
}

/** Adopts what peers know about this incident, then runs the claim step for the pending notice. */
export function planNotices(
  s: IncidentState,
  peers: PeerInfo[],
  roundStartedAt: number,
  ctx: IncidentContext,
  now: number,
  fx: Effect[],
): void {
  const { settleMs, handoverMs } = ctx.timing;
  const answered = peers.filter((p) => p.vote.status !== "UNREACHABLE" && p.incident !== null);
  if (s.closed !== null) mergeRecord(s.closed, answered.map((p) => p.incident!));
  if (s.incident !== null) {
    const views = answered.map((p) => p.incident!);
    if (s.heard !== null) {
      views.push({
        host: s.host,
        test: s.test,
        phase: "down",
        claim: null,
        incident: s.heard,
        closed: null,
      });
    }
    adopt(s, s.incident, views);
    s.heard = null;
  }
  const inc = s.incident;
  const kind: NoticeKind | null = inc === null
    ? null
    : s.phase === "down"
    ? "down"
    : s.phase === "recovered"
    ? "recovered"
    : null;
  // A claim made ahead of the verdict (see `startClaim`) is kept while the verdict is pending.
  const early: NoticeKind | null = s.phase === "suspect" && inc === null
    ? "down"
    : s.phase === "recovering"
    ? "recovered"
    : null;
  if (s.claim !== null && s.claim !== kind && s.claim !== early) dropClaim(s);
  if (inc === null || kind === null) {
    remind(s, ctx, now, fx);
    return;
  }
  if (kind === "recovered" && inc.down === null) {
    // Nobody committed a down notice (the outage ended while it was being agreed): close quietly,
    // keeping the last closed incident that did have notices.
    const closed = s.closed;
    close(s, now);
    s.closed = closed;
    fx.push(log("info", "recovered before anyone notified: no notice"));
    return;
  }
  const known = inc[kind];
  if (known !== null && isNoticeLive(known, ctx.self, peers, now, handoverMs)) {
    dropClaim(s);
    if (kind === "recovered") close(s, now);
    else {
      const p = peerPresence(known.by, peers, now, handoverMs);
      if (known.deliveredAt === null && p.absentAt !== null) {
        fx.push({ type: "wake", at: p.absentAt });
      }
      remind(s, ctx, now, fx);
    }
    return;
  }
  const passed = known === null ? [] : [...known.passed, known.by];
  // Qualified: the peer confirmed it itself (its phase). Claiming: it will, or it did not tell.
  const same = answered.filter((p) =>
    p.node !== null && (kind === "down" || p.incident!.incident?.id === inc.id)
  );
  const qualified = same.filter((p) => p.incident!.phase === kind).map((p) => p.node!);
  const claiming = same.filter((p) => p.incident!.claim === kind);
  const rivals = [...new Set([...qualified, ...claiming.map((p) => p.node!)])];
  let rivalSettleMs = 0;
  for (const p of claiming) {
    rivalSettleMs = Math.max(rivalSettleMs, p.incident!.settleMs ?? settleMs);
  }
  const ownSettle = s.claim === kind ? s.settleMs ?? settleMs : claimSettle(ctx);
  const plan = planClaim({
    self: ctx.self,
    rivals,
    passed,
    claimedAt: s.claim === kind ? s.claimedAt : null,
    peers,
    roundStartedAt,
    now,
    settleMs: ownSettle,
    rivalSettleMs,
    handoverMs,
  });
  switch (plan.action) {
    case "yield":
      if (s.claim !== null) fx.push(log("info", `yielding ${kind} notice`, { to: plan.to }));
      dropClaim(s);
      // Yielding to a peer that only claims (its verdict is not in yet): look again once it has
      // had time to confirm, in case it does not.
      if (!qualified.includes(plan.to)) fx.push({ type: "wake", at: now + ownSettle });
      return;
    case "claim":
      startClaim(s, kind, now, ctx);
      fx.push(log("info", `claiming ${kind} notice`, { settle_ms: s.settleMs }));
      fx.push({ type: "wake", at: plan.wakeAt });
      return;
    case "settle":
      fx.push({ type: "wake", at: plan.wakeAt });
      return;
    case "blocked":
      fx.push(log("info", `waiting for silent peers before sending ${kind} notice`, {
        peers: plan.waitingFor.join(","),
      }));
      fx.push({ type: "wake", at: plan.wakeAt });
      return;
    case "commit": {
      const notice: Notice = { by: ctx.self, committedAt: now, deliveredAt: null, passed };
      dropClaim(s);
      inc[kind] = notice;
      fx.push(log("warn", `sending ${kind} notice`, { incident: inc.id }));
      if (ctx.nodesTotal > 1) fx.push({ type: "announce" });
      if (kind === "recovered") close(s, now);
      else s.reminders = 0;
      return;
    }
  }
}

/**
 * Merges what peers know about this incident into ours. When our incident has no committed down
 * notice yet and a peer's open incident has one, it is the same outage seen later: adopt that
 * incident (its id and notices). Two incidents that both have a committed down notice (a healed
 * split brain) stay apart, so each notifier sends the recovery for its own.
 */
function adopt(s: IncidentState, inc: IncidentRecord, views: IncidentView[]): void {
  const closedIds = new Set<string>();
  for (const v of views) if (v.closed) closedIds.add(v.closed.id);
  mergeRecord(inc, views);
  let other: IncidentRecord | null = null;
  for (const v of views) {
    const rec = v.incident;
    if (rec === null || rec.id === inc.id || rec.down === null || closedIds.has(rec.id)) continue;
    if (other === null || mergeNotice(other.down, rec.down) === rec.down) other = rec;
  }
  if (other !== null && inc.down === null) {
    const adopted: IncidentRecord = {
      id: other.id,
      startedAt: other.startedAt,
      endedAt: inc.endedAt,
      down: null,
      recovered: null,
    };
    // Every view of that incident, not just the one chosen: one may know it was delivered.
    mergeRecord(adopted, views);
    s.incident = adopted;
  }
}

/** Merges what the views know about the incident `target` (same id): who committed and delivered
 * its notices. Used for the open incident and for the last closed one, whose delivery facts keep
 * arriving after it closed. */
function mergeRecord(target: IncidentRecord, views: IncidentView[]): void {
  for (const v of views) {
    for (const rec of [v.incident, v.closed]) {
      if (rec === null || rec.id !== target.id) continue;
      target.down = mergeNotice(target.down, rec.down);
      target.recovered = mergeNotice(target.recovered, rec.recovered);
    }
  }
}

/** Takes in a peer's announcement: merged into the open incident, or kept as `heard`. */
export function hear(s: IncidentState, v: IncidentView): void {
  if (s.closed !== null) mergeRecord(s.closed, [v]);
  if (s.incident !== null) {
    adopt(s, s.incident, [v]);
    return;
  }
  if (s.heard !== null && v.closed?.id === s.heard.id) s.heard = null;
  const rec = v.incident;
  if (rec === null || rec.down === null) return;
  if (s.heard !== null && s.heard.id === rec.id) {
    s.heard.down = mergeNotice(s.heard.down, rec.down);
    s.heard.recovered = mergeNotice(s.heard.recovered, rec.recovered);
  } else if (s.heard === null || rec.startedAt >= s.heard.startedAt) {
    s.heard = cloneData(rec);
  }
}

export function close(s: IncidentState, now: number): void {
  s.closed = s.incident;
  s.incident = null;
  dropClaim(s);
  s.reminders = 0;
  enter(s, "ok", now);
}

export function remind(s: IncidentState, ctx: IncidentContext, now: number, fx: Effect[]): void {
  const inc = s.incident;
  const every = ctx.timing.remindMs;
  if (inc === null || every <= 0 || (s.phase !== "down" && s.phase !== "recovering")) return;
  const d = inc.down;
  if (d === null || d.by !== ctx.self || d.deliveredAt === null) return;
  const due = Math.floor((now - d.deliveredAt) / every);
  if (due > s.reminders) {
    s.reminders = due;
    fx.push({ type: "notify", notification: build(s, inc, "reminder", ctx, due) });
  }
  fx.push({ type: "wake", at: d.deliveredAt + (s.reminders + 1) * every });
}

export function markDelivered(s: IncidentState, id: string, now: number): boolean {
  for (const inc of [s.incident, s.closed]) {
    if (inc === null) continue;
    for (const kind of ["down", "recovered"] as const) {
      const n = inc[kind];
      if (n !== null && n.deliveredAt === null && noticeId(inc.id, kind) === id) {
        n.deliveredAt = now;
        return true;
      }
    }
  }
  return false;
}

/** Notices this node committed and has not had accepted by its notifier yet. */
export function undelivered(s: IncidentState, ctx: IncidentContext): [Notification, Notice][] {
  const out: [Notification, Notice][] = [];
  for (const inc of [s.incident, s.closed]) {
    if (inc === null) continue;
    for (const kind of ["down", "recovered"] as const) {
      const n = inc[kind];
      if (n !== null && n.by === ctx.self && n.deliveredAt === null) {
        out.push([build(s, inc, kind, ctx), n]);
      }
    }
  }
  return out;
}

function build(
  s: IncidentState,
  inc: IncidentRecord,
  kind: NoticeKind | "reminder",
  ctx: IncidentContext,
  n?: number,
): Notification {
  return {
    id: noticeId(inc.id, kind, n),
    kind,
    incidentId: inc.id,
    host: s.host,
    test: s.test,
    startedAt: inc.startedAt,
    endedAt: kind === "recovered" ? inc.endedAt : null,
    votes: s.votes,
    nodesTotal: ctx.nodesTotal,
    notifier: ctx.self,
    site: null,
  };
}
