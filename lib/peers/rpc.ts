/**
 * Wires the peer client to the consensus engine: the `ask` and `announce` functions that
 * `IncidentEngine` takes, with the deadlines of confirm and view rounds.
 * @module
 */
import type { Peer } from "../config/types.ts";
import type { Logger } from "../log/mod.ts";
import type { AskFn } from "../quorum/engine.ts";
import type { IncidentView } from "../quorum/types.ts";
import { announceToPeers, askPeers, type PeerClientOptions } from "./client.ts";
import { importPeerKey } from "./auth.ts";

export interface PeerRpcOptions extends Omit<PeerClientOptions, "deadlineMs" | "key"> {
  key: string;
  /** Deadline of a confirm round (peers run their check): a little above the check timeout. */
  confirmDeadlineMs: number;
  /** Deadline of view rounds and announcements. Must stay below the settle time. */
  viewDeadlineMs: number;
  log: Logger;
}

/** The engine's `ask` and `announce`, over the authenticated peer protocol. */
export function createPeerRpc(
  peers: readonly Peer[],
  o: PeerRpcOptions,
): { ask: AskFn; announce: (host: string, test: string, view: IncidentView) => Promise<void> } {
  const key = importPeerKey(o.key);
  const opts = async (deadlineMs: number): Promise<PeerClientOptions> => ({
    ...o,
    key: await key,
    deadlineMs,
  });
  return {
    ask: async (host, test, mode) =>
      askPeers(
        peers,
        { host, test },
        await opts(mode === "confirm" ? o.confirmDeadlineMs : o.viewDeadlineMs),
        mode,
      ),
    announce: async (host, test, view) => {
      const failed = await announceToPeers(peers, view, await opts(o.viewDeadlineMs));
      for (const f of failed) {
        o.log.info("announcement not delivered", { host, test, peer: f.peer, error: f.error });
      }
    },
  };
}
