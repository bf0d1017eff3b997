/**
 * The peer endpoint's listener (our own accept loop with deadlines and connection caps, see
 * `listener.ts`; optional TLS) and the rule that a node sharing no key
 * with its peers must not serve them.
 * @module
 */
import { ConfigError, PeerError } from "../errors/mod.ts";
import type { Config } from "../config/types.ts";
import { MIN_KEY_LENGTH } from "../config/parse.ts";
import type { Logger } from "../log/mod.ts";
import { defaultLimits, type ListenerLimits, serveListener } from "./listener.ts";

/** Shortest `peer.key` accepted (the config parser's rule; repeated here for a Config built by
 * hand). */
export const MIN_PEER_KEY_LENGTH = MIN_KEY_LENGTH;

/**
 * Throws ConfigError naming `peer.key` when the node has peers but no usable key. A node without
 * peers (single-node mode) needs no key.
 */
export function checkPeerKeyRequirement(config: Pick<Config, "peers" | "peerKey">): void {
  const n = config.peers.length;
  if (n === 0) return;
  if (config.peerKey === null || config.peerKey === "") {
    throw new ConfigError([{
      file: "peer.key",
      key: "",
      message: `is missing but nodes.txt lists ${n} peer${n === 1 ? "" : "s"}; ` +
        "create it with 'dmonitor init' or write the same secret on every node",
    }]);
  }
  if (config.peerKey.length < MIN_PEER_KEY_LENGTH) {
    throw new ConfigError([{
      file: "peer.key",
      key: "",
      message: `must hold at least ${MIN_PEER_KEY_LENGTH} characters, got ${config.peerKey.length}`,
    }]);
  }
}

export interface PeerServerOptions {
  hostname: string;
  /** 0 picks a free port (tests). */
  port: number;
  app: {
    fetch(req: Request, info: Deno.ServeHandlerInfo<Deno.NetAddr>): Response | Promise<Response>;
  };
  /** PEM certificate chain and key: serve https. */
  tls?: { cert: string; key: string };
  /** Deadlines and caps; unset ones come from {@link defaultLimits} (the open-file limit). */
  limits?: Partial<ListenerLimits>;
  /** Where accept failures and refused connections are logged (default: stderr). */
  log?: Logger;
}

export interface PeerServer {
  addr: Deno.NetAddr;
  /** `http(s)://host:port` as bound. */
  url: string;
  /** Connections open now. */
  connections(): number;
  /** Stops accepting, waits for requests in flight. */
  shutdown(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Starts the listener; throws PeerError naming the address when it cannot bind. */
export function startPeerServer(o: PeerServerOptions): PeerServer {
  let listener: Deno.Listener;
  try {
    listener = o.tls
      ? Deno.listenTls({
        hostname: o.hostname,
        port: o.port,
        cert: o.tls.cert,
        key: o.tls.key,
        alpnProtocols: ["h2", "http/1.1"],
      })
      : Deno.listen({ hostname: o.hostname, port: o.port });
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new PeerError(
      `${o.hostname}:${o.port}`,
      `Cannot listen on ${o.hostname}:${o.port} for peers: ${why}`,
      { cause: err },
    );
  }
  const limits = { ...defaultLimits(), ...o.limits };
  const served = serveListener(listener, (req, info) => o.app.fetch(req, info), limits, o.log);
  const addr = served.addr;
  const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
  let done: Promise<void> | null = null;
  const shutdown = () => done ??= served.close();
  return {
    addr,
    url: `${o.tls ? "https" : "http"}://${host}:${addr.port}`,
    connections: () => served.connections(),
    shutdown,
    [Symbol.asyncDispose]: shutdown,
  };
}
