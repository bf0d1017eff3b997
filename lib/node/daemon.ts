/**
 * Assembles a running node from a configuration tree: state store, check executor, scheduler,
 * consensus, alert outbox, the peer/status listener and an optional Tentacle server; reloads on
 * demand and stops cleanly. `dmonitor run` is a thin wrapper around {@link startDaemon}.
 * @module
 */
import { resolve } from "node:path";
import { Hono } from "hono";
import { BUILTIN_CHECKS } from "../checks/mod.ts";
import type { Config } from "../config/types.ts";
import { ConfigError, formatProblemIn } from "../errors/mod.ts";
import type { Logger } from "../log/mod.ts";
import { Limiter } from "../runner/mod.ts";
import { systemClock } from "../schedule/mod.ts";
import { StateStore } from "../store/mod.ts";
import {
  alertTargets,
  buildChannels,
  type BuiltChannels,
  createNotifier,
  loadSilences,
  runOutbox,
  type Silence,
} from "../alerts/mod.ts";
import {
  createPeerApp,
  loadPeerTls,
  parsePeerSettings,
  type PeerServer,
  startPeerServer,
} from "../peers/mod.ts";
import {
  loadStatusAccess,
  quorumText,
  type StatusAccess,
  statusRoutes,
  writeLocalToken,
} from "../status/mod.ts";
import type { TentacleServer } from "../tentacle/mod.ts";
import {
  alertSettings,
  hostname,
  loadNodeConfig,
  pluginUser,
  tentacleSettings,
  VALIDATORS,
} from "./load.ts";
import { parseConfig } from "../config/mod.ts";
import type { Spool } from "../spool/mod.ts";
import type { RunningSync } from "../sync/mod.ts";
import { createExecutor } from "./execute.ts";
import { Node } from "./mod.ts";
import { Consensus, maxTimeout } from "./consensus.ts";
import { METRICS } from "../metrics/mod.ts";
import type { Notification } from "../quorum/types.ts";
import { nodeStatusSource } from "./status.ts";

export interface Daemon {
  config(): Config;
  /** Re-reads the tree; a broken one is logged and the running configuration kept. */
  reload(): Promise<boolean>;
  /** Resolves when the node has stopped (after `signal` aborts). */
  done: Promise<void>;
  addr: { hostname: string; port: number };
}

function report(logger: Logger, dir: string, e: ConfigError): void {
  for (const p of e.problems) {
    logger.error(formatProblemIn(dir, p));
  }
}

/** Settings a reload cannot apply to the running node: a change is logged as needing a restart. */
const RESTART_ONLY: [string, (c: Config) => unknown][] = [
  ["node", (c) => c.settings.node],
  ["peer.key", (c) => c.peerKey],
  ["listen", (c) => c.settings.listen],
  ["state_dir", (c) => c.settings.state_dir],
  ["concurrency", (c) => c.settings.concurrency],
  ["plugin_user", (c) => c.settings.plugin_user],
  ...["peer", "tentacle", "spool", "sync"].map((k) =>
    [k, (c: Config) => c.settings.sections[k]] as [string, (c: Config) => unknown]
  ),
];

function restartOnly(a: Config, b: Config): string[] {
  return RESTART_ONLY.filter(([, get]) => JSON.stringify(get(a)) !== JSON.stringify(get(b)))
    .map(([name]) => name);
}

function consensusChanged(a: Config, b: Config): boolean {
  return JSON.stringify([a.peers, a.settings.quorum, a.settings.remind, a.settings.timeout]) !==
    JSON.stringify([b.peers, b.settings.quorum, b.settings.remind, b.settings.timeout]);
}

/** Starts every part of the node; throws ConfigError or a one-line Error when it cannot start. */
export async function startDaemon(
  dir: string,
  o: { logger: Logger; signal: AbortSignal; version: string },
): Promise<Daemon> {
  const { logger, signal } = o;
  let config = await loadNodeConfig(dir);
  let access: StatusAccess = await loadStatusAccess(config);
  let alerts = alertSettings(config).settings;
  const peerTls = await loadPeerTls(parsePeerSettings(config).settings);
  let channels: BuiltChannels = await buildChannels(alerts);

  const store = StateStore.open(resolve(config.root, config.settings.state_dir));
  // `dmonitor status` on this node presents it (lib/status/local_token.ts).
  const localToken = await writeLocalToken(resolve(config.root, config.settings.state_dir));
  access = { ...access, localToken };
  const cleanups: (() => Promise<void> | void)[] = [() => store.close()];
  try {
    const execute = createExecutor({
      limiter: new Limiter(config.settings.concurrency),
      builtins: BUILTIN_CHECKS,
      user: await pluginUser(config),
      signal,
    });
    const outboxNotifier = createNotifier({
      db: store.db,
      targets: () => alertTargets(alerts),
      silences: async () => (await loadSilences(config.root)).silences,
      log: logger,
    });
    const alertNotifier = {
      notify: async (n: Notification) => {
        await outboxNotifier.notify(n);
        METRICS.notifications.inc({ kind: n.kind });
      },
    };
    // A site node (spool: section) hands its notifications to the spool, for the central node to
    // deliver; it also delivers them itself when it has alert targets of its own.
    let reloadRef: () => Promise<boolean> = () => Promise.resolve(false);
    let spool: Spool | null = null;
    if (config.settings.sections.spool !== undefined) {
      const { startSpool } = await import("../spool/mod.ts");
      spool = await startSpool(config, {
        logger,
        version: o.version,
        parseTree: (files) =>
          parseConfig(files, {
            builtins: BUILTIN_CHECKS,
            hostname: hostname(),
            validators: VALIDATORS,
          }),
        reload: () => reloadRef(),
      });
      const started = spool;
      if (started) cleanups.push(() => started.close());
    }
    const notifier = !spool ? alertNotifier : {
      notify: async (n: Notification) => {
        await spool!.notify(n);
        if (alertTargets(alerts).length > 0) await alertNotifier.notify(n);
      },
    };
    // A central node (sync: section) pulls its sites and alerts through its own channels.
    let sync: RunningSync | null = null;
    if (config.settings.sections.sync !== undefined) {
      const { startSyncPuller } = await import("../sync/mod.ts");
      sync = startSyncPuller(config, { db: store.db, notifier: alertNotifier, logger });
      const started = sync;
      if (started) cleanups.push(() => started.close());
    }
    const makeConsensus = () =>
      new Consensus({
        config: () => config,
        store,
        execute,
        notifier,
        logger: logger.child("quorum"),
        ...(peerTls.client ? { peerTls: { client: peerTls.client } } : {}),
      });
    let consensus = makeConsensus();
    cleanups.push(() => consensus.close());
    const node = new Node({
      config,
      store,
      execute,
      clock: systemClock,
      logger: logger.child("node"),
      onResult: (r) => {
        spool?.addResult(r);
        return consensus.onResult(r);
      },
    });

    const cb = () => consensus.peerCallbacks();
    const app = createPeerApp({
      nodeName: config.settings.node,
      key: config.peerKey,
      log: logger.child("peers"),
      confirm: (h, t, s) => cb().confirm(h, t, s),
      view: (h, t) => cb().view(h, t),
      hear: (h, t, f, v) => cb().hear(h, t, f, v),
      state: () => cb().state(),
      requestDeadlineMs: Math.max(15_000, maxTimeout(config) + 5_000),
    });
    // silence.d/ is read on every notification; the status view shows a copy at most 10 s old.
    let silences: Silence[] = [];
    const refreshSilences = async () => {
      try {
        silences = (await loadSilences(config.root)).silences;
      } catch (e) {
        logger.warn("cannot read silence.d/", { error: (e as Error).message });
      }
    };
    await refreshSilences();
    const silenceLoop = (async () => {
      while (!signal.aborted) {
        await systemClock.sleep(10_000, signal);
        await refreshSilences();
      }
    })();
    const startedAt = Date.now();
    const source = nodeStatusSource({
      store,
      config: () => config,
      consensus: () => consensus,
      silences: () => silences,
      sites: () => sync?.sites() ?? [],
      version: o.version,
      startedAt,
    });
    // Status routes first, so the peer API's signature check on /v1/* never sees /v1/status.
    const root = new Hono();
    statusRoutes({ source, access: () => access, logger: logger.child("status") })(root);
    root.route("/", app as unknown as Hono);
    const server: PeerServer = startPeerServer({
      hostname: config.settings.listen.hostname,
      port: config.settings.listen.port,
      app: root,
      ...(peerTls.serve ? { tls: peerTls.serve } : {}),
    });
    cleanups.push(() => server.shutdown());

    let tentacle: TentacleServer | undefined;
    const ts = tentacleSettings(config).settings;
    if (ts) {
      const tlog = logger.child("tentacle");
      for (const w of ts.warnings) tlog.warn(w);
      const { startTentacleServer } = await import("../tentacle/mod.ts");
      tentacle = await startTentacleServer({ ...ts.server, logger: tlog });
      cleanups.push(() => tentacle!.close());
    }

    const outbox = runOutbox({
      db: store.db,
      channels: () => channels.channels,
      signal,
      log: logger.child("alerts"),
    });
    logger.info("node started", {
      version: o.version,
      node: config.settings.node,
      config: config.root,
      tests: config.tests.length,
      peers: config.peers.length,
      mode: config.settings.singleNode ? "single-node" : `quorum ${quorumText(config)}`,
      listen: `${server.addr.hostname}:${server.addr.port}`,
      tls: peerTls.serve !== null,
      state: store.path,
    });

    let reloading: Promise<boolean> | null = null;
    const reload = async (): Promise<boolean> => {
      try {
        const next = await loadNodeConfig(dir);
        const nextAccess = await loadStatusAccess(next);
        const nextAlerts = alertSettings(next).settings;
        const nextChannels = await buildChannels(nextAlerts);
        const fixed = restartOnly(config, next);
        if (fixed.length) {
          logger.warn("these settings take effect after a restart", { settings: fixed.join(",") });
        }
        const rebuild = consensusChanged(config, next);
        const old = channels;
        config = next;
        access = { ...nextAccess, localToken };
        alerts = nextAlerts;
        channels = nextChannels;
        await old.close();
        if (rebuild) {
          consensus.close();
          consensus = makeConsensus();
        }
        node.reload(next);
        await refreshSilences();
        return true;
      } catch (e) {
        if (e instanceof ConfigError) {
          report(logger, dir, e);
          logger.error("reload refused: configuration is broken; keeping the running one", {
            problems: e.problems.length,
          });
        } else {logger.error("reload failed; keeping the running configuration", {
            error: (e as Error).message,
          });}
        return false;
      }
    };

    const done = (async () => {
      try {
        await Promise.all([node.run(signal), outbox, silenceLoop]);
        logger.info("node stopped", { runs: node.runs });
      } finally {
        for (const c of cleanups.reverse()) await c();
        await channels.close();
      }
    })();
    reloadRef = () => reloading ??= reload().finally(() => reloading = null);
    return {
      config: () => config,
      reload: () => reloadRef(),
      done,
      addr: server.addr,
    };
  } catch (e) {
    for (const c of cleanups.reverse()) await c();
    await channels.close();
    throw e;
  }
}
