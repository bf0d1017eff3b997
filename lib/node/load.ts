/**
 * The node's configuration: lib/config's single pass with the section parser of every part that
 * owns a piece of the tree, composed here into one typed {@link NodeConfig}. Every command loads
 * through {@link loadNodeConfig}, so `dmonitor config check` refuses exactly what `run` refuses.
 * @module
 */
import { BUILTIN_CHECKS } from "../checks/mod.ts";
import { pluginTrustProblems, resolveUser, type RunAs } from "../runner/mod.ts";
import { peerSection } from "../peers/settings.ts";
import type { ConfigProblem } from "../errors/mod.ts";
import {
  type Config,
  type ConfigFiles,
  loadConfig,
  parseConfig,
  type SectionsOf,
} from "../config/mod.ts";
import { statusSection } from "../status/settings.ts";
// options.ts only: the server itself is loaded when a tentacle: section asks for it.
import { tentacleSection } from "../tentacle/options.ts";
import { alertSection } from "../alerts/settings.ts";
import { silenceSection } from "../alerts/silence.ts";
import { spoolSection } from "../spool/settings.ts";
import { syncSection } from "../sync/settings.ts";
import { runAsSection } from "../privilege/mod.ts";
import { storeSection } from "../pg/settings.ts";

export function hostname(): string {
  try {
    return Deno.hostname().split(".")[0] || "localhost";
  } catch {
    return "localhost";
  }
}

/** The section parsers of every part; `syncOverrides` are `dmonitor sync --pandora-conf` keys. */
export function nodeSections(syncOverrides?: Record<string, string>) {
  return {
    alerts: alertSection,
    silences: silenceSection,
    peer: peerSection,
    status: statusSection,
    tentacle: tentacleSection,
    spool: spoolSection,
    sync: syncSection(syncOverrides),
    store: storeSection,
    runAs: runAsSection,
  };
}

/** The node's whole configuration, every section typed and parsed once. */
export type NodeConfig = Config<SectionsOf<ReturnType<typeof nodeSections>>>;

/** Checks across parts, run in the same pass (added to by the parts that need one). */
export const VALIDATORS: ((c: NodeConfig) => ConfigProblem[])[] = [
  (c) => pluginTrustProblems(c),
];

export interface LoadOptions {
  syncOverrides?: Record<string, string>;
}

/** Reads and parses the tree at `dir`; throws ConfigError naming every problem. */
export function loadNodeConfig(dir: string, o: LoadOptions = {}): Promise<NodeConfig> {
  return loadConfig(dir, {
    builtins: BUILTIN_CHECKS,
    hostname: hostname(),
    sections: nodeSections(o.syncOverrides),
    validators: VALIDATORS,
  });
}

/** The pure half of {@link loadNodeConfig}, for a tree already read (a pushed site bundle). */
export function parseNodeConfig(files: ConfigFiles, host = hostname()): NodeConfig {
  return parseConfig(files, {
    builtins: BUILTIN_CHECKS,
    hostname: host,
    sections: nodeSections(),
    validators: VALIDATORS,
  });
}

/** Who plugins run as: `plugin_user` when the node is root; undefined when it is not. */
export async function pluginUser(config: Config): Promise<RunAs | null | undefined> {
  if (Deno.uid() !== 0) return undefined;
  if (config.settings.plugin_user === "root") return null;
  return await resolveUser(config.settings.plugin_user);
}
