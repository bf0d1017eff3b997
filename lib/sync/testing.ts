/**
 * Test helpers for lib/spool and lib/sync: configurations with given sections, sample results and
 * notifications, a recording notifier, temporary directories and data files. Not public surface.
 * @module
 */
import type { BaseConfig, Config } from "../config/types.ts";
import { ConfigError, type ConfigProblem } from "../errors/mod.ts";
import { spoolSection, type SpoolSettings } from "../spool/settings.ts";
import { syncSection, type SyncSettings } from "./settings.ts";
import { DEFAULTS } from "../config/settings.ts";
import type { Notification } from "../quorum/types.ts";
import type { CheckResult } from "../runner/result.ts";
import { renderAgentData } from "../spool/agent_xml.ts";

export const TLS_DIR = new URL("../../testdata/tls/", import.meta.url).pathname;
export const T0 = Date.UTC(2026, 0, 15, 12, 0, 0);

/**
 * A parsed configuration rooted at `root` with the given raw `spool:` / `sync:` sections, parsed
 * by their section parsers (a problem throws, naming it).
 */
export function configWith(
  root: string,
  raw: { spool?: unknown; sync?: unknown },
  node = "node-1",
): Config<{ spool: SpoolSettings | null; sync: SyncSettings | null }> {
  const base: BaseConfig = {
    root,
    settings: {
      node,
      listen: { ...DEFAULTS.listen },
      quorum: { kind: "count", count: 1 },
      interval: 60_000,
      timeout: 10_000,
      retries: 0,
      state_dir: "state",
      plugin_user: "nobody",
      concurrency: 4,
      history_retention: 7 * 86_400_000,
      warning: "pass",
      unknown: "fail",
      remind: 0,
      singleNode: true,
    },
    peers: [],
    tests: [],
    recipients: [],
    alertFiles: {},
    silenceFiles: {},
    peerKey: null,
  };
  const problems: ConfigProblem[] = [];
  const spool = spoolSection.parse(raw.spool, base, problems);
  const sync = syncSection().parse(raw.sync, base, problems);
  if (problems.length > 0) throw new ConfigError(problems);
  return { ...base, sections: { spool, sync } };
}

export function result(over: Partial<CheckResult> = {}): CheckResult {
  return {
    host: "www.example.com",
    test: "http",
    status: "OK",
    state: "OK",
    output: "HTTP 200 OK",
    perfdata: "",
    exitCode: null,
    startedAt: T0,
    durationMs: 12,
    ...over,
  };
}

export function notification(over: Partial<Notification> = {}): Notification {
  return {
    id: "inc-1/down",
    kind: "down",
    incidentId: "inc-1",
    host: "db.plant.example",
    test: "tcp",
    startedAt: T0,
    endedAt: null,
    votes: [
      { node: "node-1", status: "FAIL", output: "connection refused", at: T0 + 1000 },
      { node: "node-2", status: "FAIL", output: "connection refused", at: T0 + 1200 },
    ],
    nodesTotal: 2,
    notifier: "node-1",
    site: null,
    ...over,
  };
}

/** A notifier that records what it accepted; `fail` makes it refuse. */
export function recordingNotifier(): {
  notify(n: Notification): Promise<void>;
  seen: Notification[];
  fail: boolean;
} {
  const r = {
    seen: [] as Notification[],
    fail: false,
    notify(n: Notification): Promise<void> {
      if (r.fail) return Promise.reject(new Error("notifier down"));
      r.seen.push(n);
      return Promise.resolve();
    },
  };
  return r;
}

/** A data file as a site node writes it. */
export function dataFile(
  agent: string,
  time: number,
  results: CheckResult[],
  notifications: Notification[] = [],
): string {
  return renderAgentData({
    agentName: agent,
    time,
    intervalSec: 30,
    version: "test",
    site: null,
    group: null,
    results,
    notifications,
    dropped: 0,
  });
}

/** A fresh temporary directory removed on dispose. */
export async function tempDir(
  prefix = "dmonitor-sync-test-",
): Promise<{ path: string; [Symbol.asyncDispose](): Promise<void> }> {
  const path = await Deno.makeTempDir({ prefix });
  return {
    path,
    [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }).catch(() => {}),
  };
}

/** Polls `cond` every 20 ms until it holds; throws with `what` after `ms`. */
export async function until(
  cond: () => boolean | Promise<boolean>,
  what: string,
  ms = 20_000,
): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A free TCP port on `host` (an IP literal on loopback). */
export function freePort(host = "127.0.0.1"): number {
  const l = Deno.listen({ hostname: host, port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}
