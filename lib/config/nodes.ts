/**
 * Parses `nodes.txt`: one peer per line (`host`, `host:port`, `[v6]:port`), `#` comments and blank
 * lines allowed. Pure.
 * @module
 */
import type { ConfigProblem } from "../errors/mod.ts";
import type { ListenAddress, Peer } from "./types.ts";
import { parseHostPort } from "./values.ts";

export const NODES_FILE = "nodes.txt";
export const DEFAULT_PEER_PORT = 2929;

/**
 * Parses the peer list. An entry naming this node itself (its `node` name, or its `listen`
 * address) is dropped, so one nodes.txt listing every node can be copied to all of them.
 */
export function parseNodes(
  text: string,
  self: { node: string; listen: ListenAddress },
  problems: ConfigProblem[],
): Peer[] {
  const peers: Peer[] = [];
  const seen = new Map<string, number>();
  text.split("\n").forEach((rawLine, i) => {
    const line = i + 1;
    const raw = rawLine.replace(/#.*$/, "").trim();
    if (raw === "") return;
    const key = `line ${line}`;
    if (/\s/.test(raw)) {
      problems.push({
        file: NODES_FILE,
        key,
        message: `must hold one peer per line, got ${JSON.stringify(raw)}`,
      });
      return;
    }
    const r = parseHostPort(raw, DEFAULT_PEER_PORT);
    if (!r.ok || r.value.host === "") {
      problems.push({
        file: NODES_FILE,
        key,
        message: r.ok ? `must name a host, got ${JSON.stringify(raw)}` : r.message,
      });
      return;
    }
    const { host, port } = r.value;
    const isSelf = (host === self.node && port === self.listen.port) ||
      (host === self.listen.hostname && port === self.listen.port);
    if (isSelf) return;
    const id = `${host.toLowerCase()}:${port}`;
    const first = seen.get(id);
    if (first !== undefined) {
      problems.push({
        file: NODES_FILE,
        key,
        message: `repeats the peer on line ${first}, got ${JSON.stringify(raw)}`,
      });
      return;
    }
    seen.set(id, line);
    peers.push({ host, port, raw, line });
  });
  return peers;
}
