/**
 * A site node's running spool: buffers results and notifications into agent data files, sends them
 * on (send_to) and applies configurations the central node pushes. Public surface: mod.ts.
 * @module
 */
import type { Config } from "../config/types.ts";
import type { Logger } from "../log/mod.ts";
import type { Notification } from "../quorum/types.ts";
import type { CheckResult } from "../runner/result.ts";
import { type Clock, systemClock } from "../schedule/mod.ts";
import { TentacleClient } from "../tentacle/mod.ts";
import {
  appliedMd5,
  applyConfigBundle,
  type ApplyOutcome,
  type ParseTree,
  rollForward,
} from "./config_apply.ts";
import { clientOptions, fetchBundle, readLocalBundle, sendSpool } from "./sender.ts";
import type { SpoolSettings } from "./settings.ts";
import { type SpoolStats, SpoolWriter } from "./writer.ts";

export interface SpoolDeps {
  logger: Logger;
  clock?: Clock;
  /** Written into the files' `version` attribute. */
  version?: string;
  /**
   * Validates a candidate configuration tree the way `dmonitor run` loads one (throws ConfigError):
   * lib/node `parseNodeConfig`. Required when `receive_config` is on.
   */
  parseTree?: ParseTree;
  /** Called after a pushed configuration was written into the tree: reload the node (as SIGHUP). */
  reload?: () => unknown;
  /** fdatasync spool files (default true). */
  fsync?: boolean;
}

export interface SpoolRuntimeStats extends SpoolStats {
  /** Files handed to the site's Tentacle server (send_to mode). */
  sent: number;
  sendErrors: number;
  lastSend: number | null;
  lastSendError: string | null;
  /** MD5 of the pushed configuration bundle in force, or null. */
  configMd5: string | null;
}

/** A running spool. `notify` makes it usable wherever a Notifier is expected. */
export interface Spool {
  readonly settings: SpoolSettings;
  addResult(result: CheckResult): void;
  notify(notification: Notification): Promise<void>;
  flush(): Promise<void>;
  stats(): SpoolRuntimeStats;
  /** One send round and one configuration check now (tests; the loops do it on their own). */
  poll(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Starts the spool of a node whose configuration has a `spool:` section (parsed with the rest of
 * the tree); null without one. Throws when the directory cannot be created.
 */
export async function startSpool(
  config: Config<{ spool: SpoolSettings | null }>,
  deps: SpoolDeps,
): Promise<Spool | null> {
  const settings = config.sections.spool;
  if (!settings) return null;
  if (settings.receiveConfig && !deps.parseTree) {
    throw new Error("Cannot start the spool: receive_config needs a parseTree");
  }
  const clock = deps.clock ?? systemClock;
  const log = deps.logger.child("spool");
  const writer = new SpoolWriter({
    settings,
    version: deps.version ?? "dmonitor",
    clock,
    log,
    fsync: deps.fsync,
  });
  await writer.init();
  await writer.prune();
  const root = config.root;
  if (settings.receiveConfig) await rollForward(root);
  const extra = {
    sent: 0,
    sendErrors: 0,
    lastSend: null as number | null,
    lastSendError: null as string | null,
  };
  let configMd5 = await appliedMd5(root);
  const ctl = new AbortController();

  const apply = async (pair: { conf: Uint8Array; md5: string }) => {
    const out: ApplyOutcome = await applyConfigBundle(root, pair.conf, pair.md5, deps.parseTree!);
    if (out.applied) {
      configMd5 = out.md5;
      log.info("applied the configuration pushed by the central node", {
        md5: out.md5,
        files: out.files,
      });
      await deps.reload?.();
    } else if (out.reason === "invalid") {
      log.error("refused the configuration pushed by the central node", {
        md5: out.md5,
        problems: out.detail,
      });
    } else if (out.reason === "md5-mismatch") {
      log.debug("pushed configuration incomplete; waiting", { detail: out.detail });
    }
  };

  let polling: Promise<void> | null = null;
  const pollOnce = async () => {
    if (settings.sendTo) {
      let client: TentacleClient | null = null;
      try {
        client = await TentacleClient.connect(clientOptions(settings.sendTo));
        const out = await sendSpool(client, settings.directory, log);
        extra.sent += out.sent;
        extra.lastSend = clock.now();
        extra.lastSendError = null;
        if (settings.receiveConfig) {
          const pair = await fetchBundle(client, configMd5);
          if (pair) await apply(pair);
        }
        await client.quit();
      } catch (e) {
        client?.close();
        extra.sendErrors++;
        extra.lastSendError = (e as Error).message;
        log.warn("cannot send the spool to the site server", {
          to: `${settings.sendTo.host}:${settings.sendTo.port}`,
          error: (e as Error).message,
        });
      }
    } else if (settings.receiveConfig) {
      try {
        const pair = await readLocalBundle(settings.directory);
        if (pair && pair.md5.trim().toLowerCase() !== configMd5) await apply(pair);
      } catch (e) {
        log.warn("cannot apply the pushed configuration", { error: (e as Error).message });
      }
    }
  };
  const poll = () => {
    polling ??= pollOnce().finally(() => polling = null);
    return polling;
  };

  const loops: Promise<void>[] = [writer.run(ctl.signal)];
  if (settings.sendTo || settings.receiveConfig) {
    loops.push((async () => {
      while (!ctl.signal.aborted) {
        await poll();
        await clock.sleep(settings.pollMs, ctl.signal);
      }
    })());
  }
  log.info("spool started", {
    dir: settings.directory,
    agent: settings.agentName,
    send_to: settings.sendTo ? `${settings.sendTo.host}:${settings.sendTo.port}` : undefined,
    max_size: settings.maxBytes,
  });
  return {
    settings,
    addResult: (r) => writer.addResult(r),
    notify: (n) => writer.notify(n),
    flush: () => writer.flush(),
    stats: () => ({ ...writer.stats(), ...extra, configMd5 }),
    poll: async () => {
      await writer.flush();
      await poll();
    },
    close: async () => {
      ctl.abort();
      // Files not sent yet stay in the spool for the next start: no last send that could hang.
      await Promise.all(loops);
    },
  };
}
