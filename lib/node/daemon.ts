/**
 * The composition root: assembles a running node from a configuration tree (state store, check
 * executor, scheduler, consensus, alerting, the peer/status listener, optional spool, sync puller
 * and Tentacle server), applies reloads and stops cleanly. Wiring only: what a reload changes is
 * decided by {@link planReload}, alerting is set up by {@link createAlerting}, the HTTP app by
 * {@link buildNodeApp}. `dmonitor run` is a thin wrapper around {@link startDaemon}.
 * @module
 */
import { resolve } from "node:path";
import { Hono } from "hono";
import { ConfigError, formatProblemIn } from "../errors/mod.ts";
import type { Logger } from "../log/mod.ts";
import { Limiter } from "../runner/mod.ts";
import { systemClock } from "../schedule/mod.ts";
import { StateStore } from "../store/mod.ts";
import { loadSilences, type Silence } from "../alerts/mod.ts";
import { createPeerApp, peerName, startPeerServer } from "../peers/mod.ts";
import { quorumText, statusRoutes, writeLocalToken } from "../status/mod.ts";
import type { Notification, Notifier } from "../quorum/types.ts";
import { createAlerting } from "./alerting.ts";
import { createExecutor } from "./execute.ts";
import { buildNodeApp } from "./http.ts";
import { loadNodeConfig, type NodeConfig, parseNodeConfig, pluginUser } from "./load.ts";
import { Node } from "./node.ts";
import { ResultLog } from "./results.ts";
import { Consensus, maxTimeout } from "./consensus.ts";
import { planReload } from "./reload.ts";
import { fixMallocThresholds, keepTrimmed, releaseAfterStart } from "./memory.ts";
import { loadResources } from "./resources.ts";
import { nodeStatusSource } from "./status.ts";
import { createNodeAgreement } from "./agreement.ts";
import { createNodeHeartbeat } from "./heartbeat.ts";
import { sharedLocalRoutes, sharedPeerRoutes, SharedState, SharedStore } from "../shared/mod.ts";
import { openIncidentOf, sharedAsSilence } from "./shared.ts";
import { watchLoop } from "./loop.ts";

export interface Daemon {
  config(): NodeConfig;
  /** Re-reads the tree; a broken one is logged and the running configuration kept. */
  reload(): Promise<boolean>;
  /** Resolves when the node has stopped (after `signal` aborts). */
  done: Promise<void>;
  addr: { hostname: string; port: number };
}

type Cleanup = () => Promise<void> | void;

/** Starts every part of the node; throws ConfigError or a one-line Error when it cannot start. */
export async function startDaemon(
  dir: string,
  o: {
    logger: Logger;
    signal: AbortSignal;
    version: string;
    /** Runs once the tree and keys are read, before the store, listeners or checks start. */
    beforeServe?: (config: NodeConfig) => Promise<unknown>;
  },
): Promise<Daemon> {
  const { logger, signal } = o;
  // Before the node allocates its working set: what a mass outage frees must not stay resident.
  if (!fixMallocThresholds()) logger.debug("malloc thresholds left to the allocator (no glibc)");
  let config = await loadNodeConfig(dir);
  const res = await loadResources(config);
  let access = res.access;
  const cleanups: Cleanup[] = [() => res.peerTls.client?.close()];
  const stop = async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  };
  try {
    // Modules a section needs are loaded before `beforeServe` drops root: a source checkout may
    // be readable by root only (compiled binaries embed them anyway).
    const spoolMod = config.sections.spool === null ? null : await import("../spool/mod.ts");
    const syncMod = config.sections.sync === null ? null : await import("../sync/mod.ts");
    const tentacleMod = config.sections.tentacle === null
      ? null
      : await import("../tentacle/mod.ts");
    await o.beforeServe?.(config);
    // Bind first: a port in use is one clear error before any state file is created. Requests
    // that arrive while the rest starts get 503 (`served` is swapped in at the end).
    const starting = new Hono();
    starting.all("*", (c) => c.text("503 starting\n", 503));
    let served: { fetch: Hono["fetch"] } = starting;
    const server = startPeerServer({
      hostname: config.settings.listen.hostname,
      port: config.settings.listen.port,
      app: { fetch: (req, info) => served.fetch(req, info) },
      log: logger.child("listener"),
      ...(res.peerTls.serve ? { tls: res.peerTls.serve } : {}),
    });
    cleanups.push(() => server.shutdown());
    const store = StateStore.open(resolve(config.root, config.settings.state_dir));
    cleanups.push(() => store.close());
    // `dmonitor status` on this node presents it (lib/status/local_token.ts).
    const localToken = await writeLocalToken(resolve(config.root, config.settings.state_dir));
    access = { ...access, localToken };
    // Heartbeat tests judge from the pushes this node and its peers received (lib/heartbeat).
    const heartbeat = createNodeHeartbeat({
      db: store.db,
      config: () => config,
      rpc: () => consensus.rpc,
      log: logger.child("heartbeat"),
    });
    const execute = createExecutor({
      limiter: new Limiter(config.settings.concurrency),
      builtins: heartbeat.builtins,
      user: await pluginUser(config),
      signal,
    });
    // Silences and acknowledgements shared with the peers (lib/shared), persisted beside the rest.
    const shared = new SharedState({
      store: new SharedStore(store.db),
      nodeName: () => config.settings.node,
      peers: () => config.peers,
      key: () => config.peerKey,
      log: logger.child("shared"),
      ...(res.peerTls.client ? { tls: { client: res.peerTls.client } } : {}),
    });
    const alerting = createAlerting({
      db: store.db,
      root: config.root,
      settings: config.sections.alerts,
      channels: res.channels,
      logger,
      shared: {
        silences: () => shared.silences().map(sharedAsSilence),
        acknowledged: (id) => shared.ackOf(id),
      },
    });
    cleanups.push(() => alerting.close());

    // A site node (spool:) hands its notifications to the spool, for the central node to deliver,
    // and delivers them itself too when it has alert targets of its own.
    const reloadRef = { current: (): Promise<boolean> => Promise.resolve(false) };
    const spool = spoolMod === null ? null : await spoolMod.startSpool(config, {
      logger,
      version: o.version,
      parseTree: (files) => parseNodeConfig(files),
      reload: () => reloadRef.current(),
    });
    if (spool) cleanups.push(() => spool.close());
    const notifier: Notifier = !spool ? alerting.notifier : {
      notify: async (n: Notification) => {
        await spool.notify(n);
        if (alerting.targets().length > 0) await alerting.notifier.notify(n);
      },
    };
    // A central node (sync:) pulls its sites and alerts through its own channels.
    const sync = syncMod === null ? null : await syncMod.startSyncPuller(config, {
      db: store.db,
      pg: res.store,
      notifier: alerting.notifier,
      logger,
    });
    if (sync) cleanups.push(() => sync.close());

    // One recorder for scheduled and confirm runs: a failure first seen by a peer's confirm
    // request is logged as the change it is.
    const results = new ResultLog(store, logger.child("node"));
    // Configuration agreement rides on the consensus heartbeat (lib/agree).
    const agreement = createNodeAgreement({
      config: () => config,
      rpc: () => consensus.rpc,
      log: logger.child("agree"),
    });
    const peerErrors = new Map<string, number>();
    const makeConsensus = () =>
      new Consensus({
        config: () => config,
        store,
        execute,
        results,
        peerErrors,
        notifier,
        logger: logger.child("quorum"),
        onBeats: agreement.onBeats,
        ...(res.peerTls.client ? { peerTls: { client: res.peerTls.client } } : {}),
      });
    let consensus = makeConsensus();
    cleanups.push(() => consensus.close());
    const node = new Node({
      config,
      store,
      execute,
      clock: systemClock,
      logger: logger.child("node"),
      results,
      onResult: (r) => {
        spool?.addResult(r);
        return consensus.onResult(r);
      },
    });

    // silence.d/ is read for every notification; the status view shows a copy at most 10 s old.
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

    const source = nodeStatusSource({
      store,
      config: () => config,
      consensus: () => consensus,
      silences: () => silences,
      shared: () => shared,
      sites: () => sync?.sites() ?? [],
      agreement: () => agreement.tracker.view(),
      version: o.version,
      startedAt: Date.now(),
    });
    const cb = () => consensus.peerCallbacks();
    const app = buildNodeApp({
      status: statusRoutes({ source, access: () => access, logger: logger.child("status") }),
      open: [heartbeat.mount],
      local: sharedLocalRoutes({
        shared: () => shared,
        localToken: () => localToken,
        fileSilences: () => silences,
        openIncident: (host, test) => openIncidentOf(consensus.states(), host, test),
        nodeName: () => config.settings.node,
      }),
      peer: createPeerApp({
        nodeName: config.settings.node,
        key: config.peerKey,
        peers: () => config.peers.map(peerName),
        log: logger.child("peers"),
        confirm: (h, t, s) => cb().confirm(h, t, s),
        view: (h, t) => cb().view(h, t),
        hear: (h, t, f, v) => cb().hear(h, t, f, v),
        state: () => cb().state(),
        pingFields: agreement.pingFields,
        routes: [agreement.route, heartbeat.route],
        requestDeadlineMs: Math.max(15_000, maxTimeout(config) + 5_000),
        mounts: [sharedPeerRoutes(() => shared, () => config.settings.node)],
        observeClock: (peer, sentAt, now) => shared.skew.observe(peer, sentAt, now),
      }),
      logger: logger.child("http"),
    });
    served = app;
    // Again here, so a stop shuts the listener before the parts it serves (shutdown is idempotent).
    cleanups.push(() => server.shutdown());

    const ts = config.sections.tentacle;
    if (ts) {
      const tlog = logger.child("tentacle");
      for (const w of ts.warnings) tlog.warn(w);
      const tentacle = await tentacleMod!.startTentacleServer({ ...ts.server, logger: tlog });
      cleanups.push(() => tentacle.close());
    }

    const outbox = alerting.run(signal);
    const lag = watchLoop(logger.child("loop"));
    cleanups.push(() => lag.stop());
    logger.info("node started", {
      version: o.version,
      node: config.settings.node,
      config: config.root,
      tests: config.tests.length,
      peers: config.peers.length,
      mode: config.settings.singleNode ? "single-node" : `quorum ${quorumText(config)}`,
      listen: `${server.addr.hostname}:${server.addr.port}`,
      tls: res.peerTls.serve !== null,
      state: store.path,
    });
    releaseAfterStart("start", logger, signal);
    keepTrimmed(logger, signal);

    const reload = async (): Promise<boolean> => {
      try {
        // From the absolute root: after a switch to run_as the node runs from "/" (lib/privilege).
        const next = await loadNodeConfig(config.root);
        const nextRes = await loadResources(next);
        nextRes.peerTls.client?.close(); // peer TLS is restart-only: the running client stays
        const plan = planReload(config, next);
        if (plan.needsRestart.length) {
          logger.warn("these settings take effect after a restart", {
            settings: plan.needsRestart.join(","),
          });
        }
        config = next;
        access = { ...nextRes.access, localToken };
        alerting.update(next.sections.alerts, nextRes.channels);
        if (plan.rebuildConsensus) {
          consensus.close();
          consensus = makeConsensus();
        }
        node.reload(next);
        await refreshSilences();
        releaseAfterStart("reload", logger, signal);
        return true;
      } catch (e) {
        if (!(e instanceof ConfigError)) {
          logger.error("reload failed; keeping the running configuration", {
            error: (e as Error).message,
          });
          return false;
        }
        for (const p of e.problems) logger.error(formatProblemIn(dir, p));
        logger.error("reload refused: configuration is broken; keeping the running one", {
          problems: e.problems.length,
        });
        return false;
      }
    };
    let reloading: Promise<boolean> | null = null;
    reloadRef.current = () => reloading ??= reload().finally(() => reloading = null);

    const done = (async () => {
      try {
        await Promise.all([node.run(signal), outbox, silenceLoop, shared.run(signal)]);
        logger.info("node stopped", { runs: node.runs });
      } finally {
        await stop();
      }
    })();
    return { config: () => config, reload: () => reloadRef.current(), done, addr: server.addr };
  } catch (e) {
    await stop();
    throw e;
  }
}
