/**
 * The running node's status view: the store's checks (lib/status buildStoreView) overlaid with
 * the consensus engine's phases, incidents, peers and degraded flag, and the outbox depth. The
 * page, JSON, terminal view and metrics all read this one object.
 * @module
 */
import type { Config } from "../config/types.ts";
import { activeSilences, Outbox, type Silence } from "../alerts/mod.ts";
import {
  buildStoreView,
  type SiteView,
  type StatusSource,
  type StatusView,
} from "../status/mod.ts";
import type { IncidentState } from "../quorum/types.ts";
import type { PeerHealth } from "../quorum/health.ts";
import type { StateStore } from "../store/mod.ts";
import type { Consensus } from "./consensus.ts";

const HISTORY = 20;

/** Pure: overlays consensus states and peer health on a store view. */
export function overlayConsensus(
  view: StatusView,
  states: IncidentState[],
  peers: PeerHealth[],
  degraded: boolean,
  config: Config,
): StatusView {
  const byKey = new Map(states.map((s) => [`${s.host}\t${s.test}`, s]));
  for (const c of view.checks) c.phase = byKey.get(`${c.host}\t${c.test}`)?.phase ?? "ok";
  view.incidents = states
    .filter((s) => s.phase !== "ok")
    .map((s) => ({
      id: s.incident?.id ?? `${s.host}/${s.test}`,
      host: s.host,
      test: s.test,
      state: s.phase,
      since: s.incident?.startedAt ?? s.since,
      votes: s.votes.map((v) => ({ node: v.node, status: v.status, output: v.output, at: v.at })),
      notifier: s.incident?.down?.by ?? null,
      notified: s.incident?.down?.deliveredAt != null,
      site: null,
    }));
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

export function nodeStatusSource(o: {
  store: StateStore;
  config: () => Config;
  consensus: () => Consensus;
  /** Silences read from silence.d/ (kept fresh by the caller). */
  silences?: () => Silence[];
  /** Remote sites of a central node (sync: section). */
  sites?: () => SiteView[];
  version: string;
  startedAt: number;
}): StatusSource {
  const outbox = new Outbox(o.store.db);
  return {
    view: () => {
      const config = o.config();
      const now = Date.now();
      const view = buildStoreView(config, o.store.lastAll(), {
        version: o.version,
        startedAt: o.startedAt,
        now,
      });
      const c = o.consensus();
      overlayConsensus(view, c.states(), c.peerHealth(), c.degraded(), config);
      const rtt = c.rpc?.rtt();
      config.peers.forEach((peer, i) => {
        const ms = rtt?.get(peer.raw || `${peer.host}:${peer.port}`);
        const v = view.peers[i];
        if (v && ms !== undefined && v.reachable) v.rttMs = Math.round(ms * 10) / 10;
      });
      view.sites = o.sites?.() ?? [];
      view.silences = activeSilences(o.silences?.() ?? [], now).map((s) => ({
        host: s.host,
        test: s.test,
        until: s.until,
        reason: s.reason,
      }));
      view.outbox = outbox.depth();
      return view;
    },
  };
}
