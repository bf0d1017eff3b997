/**
 * Wires configuration agreement into the node: the digest this node sends on every heartbeat
 * reply, `GET /v1/config` (its entries, signed), and the tracker fed by the heartbeat's answers,
 * which fetches a peer's entries over the peer client when its digest differs.
 * @module
 */
import {
  AgreementTracker,
  CONFIG_PATH,
  digestFromPing,
  MAX_CONFIG_REPLY_BYTES,
  parseConfigReply,
  summarize,
  type TreeSummary,
} from "../agree/mod.ts";
import type { Config } from "../config/types.ts";
import { ProtocolError } from "../errors/mod.ts";
import type { Logger } from "../log/mod.ts";
import { type Beat, peerLabel, peerName, type PeerRoute, type PeerRpc } from "../peers/mod.ts";
import { quorumNeeded } from "../quorum/quorum.ts";

/** The summary of a configuration, computed once per configuration object. */
const summaries = new WeakMap<Config, TreeSummary>();
export function summaryOf(config: Config): TreeSummary {
  let s = summaries.get(config);
  if (!s) summaries.set(config, s = summarize(config, config.peers.map(peerName)));
  return s;
}

/** `host:port` of a peer as the status view shows it. */
const shown = (p: Config["peers"][number]) =>
  p.host.includes(":") ? `[${p.host}]:${p.port}` : `${p.host}:${p.port}`;

export interface NodeAgreement {
  tracker: AgreementTracker;
  /** `GET /v1/config`. */
  route: PeerRoute;
  /** Added to every heartbeat reply. */
  pingFields: () => Record<string, unknown>;
  /** The consensus heartbeat's hook. */
  onBeats: (beats: Beat[]) => void;
}

/** Builds the node's agreement part; `rpc` is the current consensus' peer client (reloads). */
export function createNodeAgreement(o: {
  config: () => Config;
  rpc: () => PeerRpc | null;
  log: Logger;
  now?: () => number;
}): NodeAgreement {
  const tracker = new AgreementTracker({
    summary: () => summaryOf(o.config()),
    self: () => o.config().settings.node,
    peers: () =>
      o.config().peers.map((p) => ({ key: peerLabel(p), address: shown(p), name: peerName(p) })),
    needed: () => {
      const c = o.config();
      return quorumNeeded(c.settings.quorum, c.peers.length + 1);
    },
    fetchSummary: async (key) => {
      const rpc = o.rpc();
      if (!rpc) throw new Error("no peer client");
      const { node, json } = await rpc.call(key, "GET", CONFIG_PATH, undefined, {
        deadlineMs: 5_000,
        maxReplyBytes: MAX_CONFIG_REPLY_BYTES,
      });
      const r = parseConfigReply(json);
      if (r.node !== node) {
        throw new ProtocolError(`reply names node "${r.node}" but was signed as "${node}"`);
      }
      return r;
    },
    log: o.log,
    now: o.now ?? Date.now,
  });
  return {
    tracker,
    route: {
      method: "GET",
      path: CONFIG_PATH,
      handle: () => {
        const s = summaryOf(o.config());
        return { digest: s.digest, entries: s.entries };
      },
    },
    pingFields: () => ({ configDigest: summaryOf(o.config()).digest }),
    onBeats: (beats) => {
      const answers = beats.flatMap((b) =>
        b.error === null && b.node !== null
          ? [{ key: b.peer, node: b.node, digest: digestFromPing(b.reply) }]
          : []
      );
      tracker.heard(answers).catch((e) =>
        o.log.error("configuration agreement failed", { error: String(e) })
      );
    },
  };
}
