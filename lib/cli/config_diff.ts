/**
 * `dmonitor config diff PEER`: this node's tree (read from disk) against a peer's, as the peer
 * reports it over the signed peer API (`GET /v1/config`), printed entry by entry.
 * @module
 */
import { MAX_CONFIG_REPLY_BYTES, parseConfigReply, renderDiff } from "../agree/mod.ts";
import { CONFIG_PATH } from "../agree/wire.ts";
import type { Peer } from "../config/types.ts";
import { ConfigError, formatProblemIn } from "../errors/mod.ts";
import { callPeer, importPeerKey, loadPeerTls, peerLabel, peerName } from "../peers/mod.ts";
import { summaryOf } from "../node/agreement.ts";
import { loadNodeConfig, type NodeConfig } from "../node/load.ts";
import { sanitizeText } from "../text/mod.ts";
import type { Io } from "./args.ts";

export const CONFIG_DIFF_USAGE = `Usage: dmonitor config diff [--config DIR] PEER

Compares what must agree across the cluster (every host/test with what runs it, its parameters,
interval, timeout, retries; the quorum and the node set) between this node's tree in DIR and the
configuration PEER is running, as PEER reports it over the signed peer API. PEER is a node name or
an address as nodes.txt lists it. Secret parameters (names with token, password, secret or key)
are compared by hash and never printed.
Exit status: 0 when they agree, 2 when they differ, 1 when the tree is broken or PEER cannot be
asked, 64 on a usage error.`;

/** The nodes.txt peer that `name` names: its node name, its line, `host:port` or its host. */
export function findPeer(peers: readonly Peer[], name: string): Peer | null {
  return peers.find((p) =>
    peerName(p) === name || peerLabel(p) === name || `${p.host}:${p.port}` === name ||
    `[${p.host}]:${p.port}` === name || p.host === name
  ) ?? null;
}

export async function configDiff(dir: string, target: string, io: Io): Promise<number> {
  let config: NodeConfig;
  try {
    config = await loadNodeConfig(dir);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    for (const p of e.problems) io.err(`dmonitor config diff: ${formatProblemIn(dir, p)}`);
    return 1;
  }
  const peer = findPeer(config.peers, target);
  if (!peer) {
    const known = config.peers.map(peerName).join(", ") || "none";
    io.err(
      `dmonitor config diff: ${JSON.stringify(target)} is not a peer in ${dir}/nodes.txt ` +
        `(peers: ${known})`,
    );
    return 1;
  }
  if (config.peerKey === null) {
    io.err(`dmonitor config diff: ${dir}/peer.key is missing: the peer API needs it`);
    return 1;
  }
  const tls = config.sections.peer.tls !== null;
  const client = tls ? (await loadPeerTls(config.sections.peer)).client ?? undefined : undefined;
  try {
    const key = await importPeerKey(config.peerKey);
    const { node, json } = await callPeer(peer, "GET", CONFIG_PATH, undefined, {
      key,
      cryptoKey: key,
      nodeName: config.settings.node,
      deadlineMs: 10_000,
      tls,
      ...(client ? { client } : {}),
      maxReplyBytes: MAX_CONFIG_REPLY_BYTES,
    });
    const theirs = parseConfigReply(json);
    if (theirs.node !== node) throw new Error(`reply names "${theirs.node}", signed as "${node}"`);
    const mine = summaryOf(config);
    const text = renderDiff({ node: config.settings.node, ...mine }, theirs);
    io.out(sanitizeText(text, { lines: true }));
    return mine.digest === theirs.digest ? 0 : 2;
  } catch (e) {
    const err = e as Error;
    const why = err.message + (err.cause instanceof Error ? ` (${err.cause.message})` : "");
    io.err(
      `dmonitor config diff: cannot ask ${peerName(peer)} (${peer.host}:${peer.port}): ` +
        `${sanitizeText(why)}; is 'dmonitor run' running there, with this peer.key?`,
    );
    return 1;
  } finally {
    client?.close();
  }
}
