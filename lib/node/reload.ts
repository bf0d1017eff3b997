/**
 * What a reload (SIGHUP, or a configuration pushed to a site) changes on a running node, decided
 * purely from the running and the new configuration; `startDaemon` applies the plan.
 * @module
 */
import type { NodeConfig } from "./load.ts";

export interface ReloadPlan {
  /** Settings that changed but take effect only after a restart (logged as such). */
  needsRestart: string[];
  /** Peers, quorum, reminders or timeouts changed: the consensus engine is rebuilt. */
  rebuildConsensus: boolean;
}

type Get = (c: NodeConfig) => unknown;

/** Settings a running node cannot change: its identity, listener, store, users and servers. */
const RESTART_ONLY: [string, Get][] = [
  ["node", (c) => c.settings.node],
  ["peer.key", (c) => c.peerKey],
  ["listen", (c) => c.settings.listen],
  ["state_dir", (c) => c.settings.state_dir],
  ["concurrency", (c) => c.settings.concurrency],
  ["plugin_user", (c) => c.settings.plugin_user],
  ["run_as", (c) => c.sections.runAs],
  ["peer", (c) => c.sections.peer],
  ["tentacle", (c) => c.sections.tentacle],
  ["spool", (c) => c.sections.spool],
  ["sync", (c) => c.sections.sync],
  ["store", (c) => c.sections.store],
];

/** What the consensus engine is built from. */
const CONSENSUS: Get[] = [
  (c) => c.peers.map((p) => [p.host, p.port]),
  (c) => c.settings.quorum,
  (c) => c.settings.remind,
  (c) => c.settings.timeout,
];

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** Compares the running configuration with the new one. Pure. */
export function planReload(old: NodeConfig, next: NodeConfig): ReloadPlan {
  return {
    needsRestart: RESTART_ONLY.filter(([, get]) => !same(get(old), get(next))).map(([n]) => n),
    rebuildConsensus: CONSENSUS.some((get) => !same(get(old), get(next))),
  };
}
