/**
 * The running node's status view: the store's checks (lib/status buildStoreView) overlaid with
 * the consensus engine's phases, incidents, peers and degraded flag, and the outbox depth. The
 * page, JSON, terminal view and metrics all read this one object.
 * @module
 */
import type { Config } from "../config/types.ts";
import { activeSilences, Outbox, type OutboxRow, type Silence } from "../alerts/mod.ts";
import {
  buildStoreView,
  type NoticeView,
  type SiteView,
  type StatusSource,
  type StatusView,
} from "../status/mod.ts";
import type { IncidentState } from "../quorum/types.ts";
import type { PeerHealth } from "../quorum/health.ts";
import type { StateStore } from "../store/mod.ts";
import type { Consensus } from "./consensus.ts";
import type { AgreementView } from "../agree/mod.ts";
import { type SharedState, skewProblem } from "../shared/mod.ts";
import { peerName } from "../peers/mod.ts";
import { checkPageView } from "./check_view.ts";
import { RECENT_RUNS } from "../store/mod.ts";

const HISTORY = 20;

/** Pure: what became of each outbox row, as the views say it. */
export function noticeOf(r: OutboxRow, self: string): NoticeView {
  const base = {
    kind: r.kind,
    recipient: r.channel === "none" ? null : r.recipient,
    at: r.createdAt,
    nextAt: null,
    by: self,
    attempts: r.attempts,
    lastError: r.lastError,
  };
  switch (r.status) {
    case "sent":
      return { ...base, state: "delivered", at: r.sentAt ?? r.createdAt, lastError: null };
    case "muted":
      return { ...base, state: "muted" };
    case "failed":
      return { ...base, state: r.channel === "none" ? "no recipients" : "failed" };
    case "pending":
      return {
        ...base,
        state: r.lastError === null ? "queued" : "retrying",
        nextAt: r.nextAt,
      };
  }
}

/** Pure: overlays consensus states and peer health on a store view. */
export function overlayConsensus(
  view: StatusView,
  states: IncidentState[],
  peers: PeerHealth[],
  degraded: boolean,
  config: Config,
  outboxRows: readonly OutboxRow[] = [],
): StatusView {
  const self = config.settings.node;
  const rowsOf = Map.groupBy(outboxRows, (r) => r.incidentId);
  const byKey = new Map(states.map((s) => [`${s.host}\t${s.test}`, s]));
  for (const c of view.checks) c.phase = byKey.get(`${c.host}\t${c.test}`)?.phase ?? "ok";
  view.incidents = states
    .filter((s) => s.phase !== "ok")
    .map((s) => {
      const down = s.incident?.down ?? null;
      const notices = (s.incident ? rowsOf.get(s.incident.id) ?? [] : []).map((r) =>
        noticeOf(r, self)
      );
      // Another node's outbox took it (deliveredAt means accepted by the notifier's outbox, not
      // by a recipient): this node can say only that, and which node holds it.
      if (down !== null && down.by !== self && down.deliveredAt !== null) {
        notices.unshift({
          kind: "down",
          recipient: null,
          state: "queued",
          at: down.deliveredAt,
          nextAt: null,
          by: down.by,
          attempts: 0,
          lastError: null,
        });
      }
      return {
        id: s.incident?.id ?? `${s.host}/${s.test}`,
        host: s.host,
        test: s.test,
        state: s.phase,
        since: s.incident?.startedAt ?? s.since,
        votes: s.votes.map((v) => ({ node: v.node, status: v.status, output: v.output, at: v.at })),
        notifier: down?.by ?? null,
        notified: notices.some((n) =>
          n.state === "delivered" && (n.kind === "down" || n.kind === "reminder")
        ),
        notices,
        site: null,
      };
    });
  view.history = states
    .filter((s) => s.closed !== null)
    .map((s) => ({
      id: s.closed!.id,
      host: s.host,
      test: s.test,
      startedAt: s.closed!.startedAt,
      endedAt: s.closed!.endedAt,
      notifier: s.closed!.down?.by ?? null,
      site: null,
    }))
    .sort((a, b) => (b.endedAt ?? 0) - (a.endedAt ?? 0))
    .slice(0, HISTORY);
  const health = new Map(peers.map((p) => [p.peer, p]));
  view.peers = config.peers.map((p, i) => {
    const h = health.get(p.raw);
    const base = view.peers[i]!;
    if (!h) return base;
    return {
      ...base,
      name: h.node,
      reachable: h.unreachableSince === null ? (h.lastOkAt !== null ? true : null) : false,
      lastContact: h.lastOkAt,
      lastError: h.lastError,
      errors: h.lastError ? Math.max(base.errors, 1) : base.errors,
    };
  });
  view.degraded = degraded;
  view.degradedReason = degraded
    ? "no peer reachable and most checks failing: this node's own uplink is suspect"
    : null;
  return view;
}

/** Acknowledgements on the open incidents, and each peer's clock offset (and problem). */
export function overlayShared(
  view: StatusView,
  shared: Pick<SharedState, "ackOf" | "skew">,
  config: Config,
  now: number,
): void {
  for (const i of view.incidents) {
    const a = shared.ackOf(i.id);
    i.acknowledged = a === null ? null : { by: a.by, origin: a.origin, at: a.at, reason: a.reason };
  }
  config.peers.forEach((peer, i) => {
    const v = view.peers[i];
    if (!v) return;
    const off = shared.skew.offset(peerName(peer), now);
    v.clockOffsetMs = off === null ? null : off.offsetMs;
    v.clockProblem = off === null ? null : skewProblem(peerName(peer), off.offsetMs);
  });
}

export function nodeStatusSource(o: {
  store: StateStore;
  config: () => Config;
  consensus: () => Consensus;
  /** Silences read from silence.d/ (kept fresh by the caller). */
  silences?: () => Silence[];
  /** Silences and acknowledgements shared by the cluster, and the peers' clock offsets. */
  shared?: () => SharedState;
  /** Remote sites of a central node (sync: section). */
  sites?: () => SiteView[];
  /** Configuration agreement with the peers (lib/agree). */
  agreement?: () => AgreementView;
  version: string;
  startedAt: number;
}): StatusSource {
  const outbox = new Outbox(o.store.db);
  /** `only`: the one check whose history is wanted (a per-check page); null: none; else all. */
  const view = (only?: { host: string; test: string } | null): StatusView => {
    const full = o.config();
    const now = Date.now();
    // A per-check page or badge reads that check alone: its cost must not grow with the number
    // of checks (a dashboard of badges on a 10,000-check node).
    const config = only
      ? { ...full, tests: full.tests.filter((t) => t.host === only.host && t.test === only.test) }
      : full;
    const last = only ? o.store.last(only.host, only.test) : null;
    const view = buildStoreView(config, only ? (last ? [last] : []) : o.store.lastAll(), {
      version: o.version,
      startedAt: o.startedAt,
      now,
      summaries: only === null
        ? new Map()
        : only
        ? new Map([[`${only.host}\t${only.test}`, o.store.summary(only.host, only.test, now)]])
        : o.store.summaries(now),
    });
    const c = o.consensus();
    const one = only ? c.state(only.host, only.test) : null;
    const states = only ? (one ? [one] : []) : c.states();
    const open = states.flatMap((s) => s.phase !== "ok" && s.incident ? [s.incident.id] : []);
    overlayConsensus(
      view,
      states,
      c.peerHealth(),
      c.degraded(),
      config,
      outbox.byIncidents(open),
    );
    const rtt = c.rpc?.rtt();
    const errors = c.peerErrors();
    config.peers.forEach((peer, i) => {
      const label = peer.raw || `${peer.host}:${peer.port}`;
      const ms = rtt?.get(label);
      const v = view.peers[i];
      if (v && ms !== undefined && v.reachable) v.rttMs = Math.round(ms * 10) / 10;
      // A real count of failed contacts (overlayConsensus alone knows only "the last one failed").
      if (v) v.errors = Math.max(v.errors, errors.get(label) ?? 0);
    });
    view.sites = o.sites?.() ?? [];
    const shared = o.shared?.();
    view.silences = [
      ...(shared?.silences() ?? []).map((s) => ({
        host: s.host,
        test: s.test,
        until: s.until,
        reason: s.reason,
        id: s.id,
        by: s.by,
        origin: s.origin,
        createdAt: s.createdAt,
      })),
      ...activeSilences(o.silences?.() ?? [], now).map((s) => ({
        host: s.host,
        test: s.test,
        until: s.until,
        reason: s.reason,
        file: s.file,
      })),
    ];
    if (shared) overlayShared(view, shared, config, now);
    view.outbox = outbox.depth();
    if (o.agreement && config.peers.length > 0) view.agreement = o.agreement();
    return view;
  };
  return {
    view: (opts) => view(opts?.history === false ? null : undefined),
    check: (host, test) => {
      const v = view({ host, test });
      const now = v.generatedAt;
      const from = now - o.config().settings.history_retention;
      return checkPageView(v, host, test, {
        days: o.store.days(host, test, now),
        changes: o.store.changes(host, test, from, 200),
        runs: o.store.history(host, test, RECENT_RUNS),
        outbox: outbox.byCheck(host, test),
      });
    },
  };
}
