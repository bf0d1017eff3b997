/**
 * Parses `nodes.txt`: one peer per line (`host`, `host:port`, `[v6]:port`, then optionally the
 * peer's node name), `#` comments and blank lines allowed. Pure.
 * @module
 */
import type { ConfigProblem } from "../errors/mod.ts";
import type { ListenAddress, Peer } from "./types.ts";
import { parseHostPort } from "./values.ts";

export const NODES_FILE = "nodes.txt";
export const DEFAULT_PEER_PORT = 2929;
const NODE_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$/;

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
  const names = new Map<string, number>();
  text.split("\n").forEach((rawLine, i) => {
    const line = i + 1;
    const raw = rawLine.replace(/#.*$/, "").trim();
    if (raw === "") return;
    const key = `line ${line}`;
    const fields = raw.split(/\s+/);
    const name = fields[1];
    if (fields.length > 2 || (name !== undefined && !NODE_NAME_RE.test(name))) {
      problems.push({
        file: NODES_FILE,
        key,
        message: `must hold one peer per line (host, host:port or [v6]:port, then optionally its ` +
          `node name), got ${JSON.stringify(raw)}`,
      });
      return;
    }
    const r = parseHostPort(fields[0]!, DEFAULT_PEER_PORT);
    if (!r.ok || r.value.host === "") {
      problems.push({
        file: NODES_FILE,
        key,
        message: r.ok ? `must name a host, got ${JSON.stringify(raw)}` : r.message,
      });
      return;
    }
    const { host, port } = r.value;
    const isSelf = name === self.node || (host === self.node && port === self.listen.port) ||
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
    const peerName = name ?? host;
    const sameName = names.get(peerName);
    if (sameName !== undefined) {
      problems.push({
        file: NODES_FILE,
        key,
        message: `names node "${peerName}" like line ${sameName}; node names must be unique`,
      });
      return;
    }
    names.set(peerName, line);
    const addr = fields[0]!;
    peers.push(
      name === undefined ? { host, port, raw: addr, line } : { host, port, raw: addr, line, name },
    );
  });
  return peers;
}
