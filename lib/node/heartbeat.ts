/**
 * Wires heartbeat tests into the node: the push store in the node's database, the service that
 * shares pushes over the current consensus' peer client, the `heartbeat` built-in that judges
 * from it, the push route and the signed exchange route.
 * @module
 */
import type { Hono } from "hono";
import type { DatabaseSync } from "node:sqlite";
import { BUILTIN_CHECKS, createHeartbeatCheck } from "../checks/mod.ts";
import type { BuiltinCheck } from "../checks/types.ts";
import type { Config, TestConfig } from "../config/types.ts";
import { EXCHANGE_PATH, HeartbeatService, pushRoutes, PushStore } from "../heartbeat/mod.ts";
import type { Logger } from "../log/mod.ts";
import { peerLabel, type PeerRoute, type PeerRpc } from "../peers/mod.ts";

export interface NodeHeartbeat {
  service: HeartbeatService;
  /** BUILTIN_CHECKS with the live `heartbeat`. */
  builtins: ReadonlyMap<string, BuiltinCheck>;
  /** Mounts `POST /v1/push/<host>/<test>`. */
  mount: (app: Hono) => void;
  /** `POST /v1/heartbeat/exchange`. */
  route: PeerRoute;
}

export function createNodeHeartbeat(o: {
  db: DatabaseSync;
  config: () => Config;
  rpc: () => PeerRpc | null;
  log: Logger;
}): NodeHeartbeat {
  let index: { config: Config; tests: Map<string, TestConfig> } | null = null;
  const test = (host: string, name: string) => {
    const config = o.config();
    if (index?.config !== config) {
      index = { config, tests: new Map(config.tests.map((t) => [`${t.host}\0${t.test}`, t])) };
    }
    return index.tests.get(`${host}\0${name}`);
  };
  const service = new HeartbeatService({
    store: new PushStore(o.db),
    self: () => o.config().settings.node,
    test,
    peers: () => o.config().peers.map(peerLabel),
    exchange: async (peer, body, deadlineMs) => {
      const rpc = o.rpc();
      if (!rpc) throw new Error("no peer client");
      return (await rpc.call(peer, "POST", EXCHANGE_PATH, body, { deadlineMs })).json;
    },
    log: o.log,
    now: Date.now,
  });
  const builtins = new Map(BUILTIN_CHECKS).set(
    "heartbeat",
    createHeartbeatCheck((h, t, period, grace, x) => service.judge(h, t, period, grace, x)),
  );
  return {
    service,
    builtins,
    mount: pushRoutes({ service, log: o.log }),
    route: {
      method: "POST",
      path: EXCHANGE_PATH,
      handle: (body) => service.handleExchange(body),
    },
  };
}
