import assert from "node:assert/strict";
import type { BaseConfig } from "../config/types.ts";
import { defaultSettings } from "../config/settings.ts";
import type { NodeConfig } from "./load.ts";
import { planReload } from "./reload.ts";

/** A node configuration with the defaults, changed by `edit`. */
function config(edit: (c: NodeConfig) => void = () => {}): NodeConfig {
  const base: BaseConfig = {
    root: "/etc/dmonitor",
    settings: defaultSettings("node-a"),
    peers: [{ host: "127.0.0.2", port: 2929, raw: "127.0.0.2", line: 1 }],
    tests: [],
    recipients: [],
    alertFiles: {},
    silenceFiles: {},
    peerKey: "k".repeat(32),
  };
  const c = {
    ...base,
    sections: {
      alerts: { emails: [] },
      silences: [],
      peer: { tls: null, caFile: null },
      status: { refresh: 30_000 },
      tentacle: null,
      spool: null,
      sync: null,
    },
  } as unknown as NodeConfig;
  edit(c);
  return c;
}

const ROWS: { name: string; edit: (c: NodeConfig) => void; restart: string[]; rebuild: boolean }[] =
  [
    { name: "nothing changed", edit: () => {}, restart: [], rebuild: false },
    { name: "a test added", edit: (c) => c.tests.push({} as never), restart: [], rebuild: false },
    {
      name: "an alert recipient added",
      edit: (c) => (c.sections.alerts as unknown as { emails: string[] }).emails.push("a@b.c"),
      restart: [],
      rebuild: false,
    },
    {
      name: "the check interval",
      edit: (c) => c.settings.interval = 5_000,
      restart: [],
      rebuild: false,
    },
    {
      name: "quorum",
      edit: (c) => c.settings.quorum = { kind: "count", count: 1 },
      restart: [],
      rebuild: true,
    },
    { name: "remind", edit: (c) => c.settings.remind = 3_600_000, restart: [], rebuild: true },
    { name: "timeout", edit: (c) => c.settings.timeout = 2_000, restart: [], rebuild: true },
    {
      name: "a peer added",
      edit: (c) => c.peers.push({ host: "127.0.0.3", port: 2929, raw: "127.0.0.3", line: 2 }),
      restart: [],
      rebuild: true,
    },
    {
      name: "a comment moved a peer's line only",
      edit: (c) => c.peers[0]!.line = 3,
      restart: [],
      rebuild: false,
    },
    {
      name: "listen and state_dir",
      edit: (c) => {
        c.settings.listen = { hostname: "127.0.0.9", port: 2929 };
        c.settings.state_dir = "/srv/x";
      },
      restart: ["listen", "state_dir"],
      rebuild: false,
    },
    {
      name: "peer.key",
      edit: (c) => c.peerKey = "z".repeat(32),
      restart: ["peer.key"],
      rebuild: false,
    },
    {
      name: "node name, concurrency and plugin_user",
      edit: (c) => {
        c.settings.node = "node-z";
        c.settings.concurrency = 2;
        c.settings.plugin_user = "daemon";
      },
      restart: ["node", "concurrency", "plugin_user"],
      rebuild: false,
    },
    {
      name: "the peer, tentacle, spool and sync sections",
      edit: (c) => {
        c.sections.peer = { tls: { certFile: "/a", keyFile: "/b" }, caFile: null };
        c.sections.tentacle = {} as never;
        c.sections.spool = {} as never;
        c.sections.sync = {} as never;
      },
      restart: ["peer", "tentacle", "spool", "sync"],
      rebuild: false,
    },
  ];

for (const row of ROWS) {
  Deno.test(`planReload: ${row.name}`, () => {
    const plan = planReload(config(), config(row.edit));
    assert.deepEqual(plan, { needsRestart: row.restart, rebuildConsensus: row.rebuild });
  });
}
