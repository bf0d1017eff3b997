/**
 * Loading the configuration the way every command does: the real built-in checks, the real host
 * name, and the validators of every part that owns a section of the tree.
 * @module
 */
import { BUILTIN_CHECKS } from "../checks/mod.ts";
import { resolveUser, type RunAs } from "../runner/mod.ts";
import { checkPeerKeyRequirement, parsePeerSettings } from "../peers/mod.ts";
import { ConfigError } from "../errors/mod.ts";
import { type Config, loadConfig } from "../config/mod.ts";
import type { ConfigProblem } from "../errors/mod.ts";
import { statusProblems } from "../status/mod.ts";
// options.ts only: the server itself is loaded when a tentacle: section asks for it.
import { type ServerSettings, serverSettingsFromConfig } from "../tentacle/options.ts";
import { isAbsolute, resolve } from "node:path";
import {
  type AlertSettings,
  parseAlertSettings,
  parseSilences,
  type Silence,
} from "../alerts/mod.ts";
import { spoolProblems } from "../spool/settings.ts";
import { syncProblems } from "../sync/settings.ts";
import { runAsProblems } from "../privilege/mod.ts";

export function hostname(): string {
  try {
    return Deno.hostname().split(".")[0] || "localhost";
  } catch {
    return "localhost";
  }
}

/** Silence files keyed as the alerts part expects them (`silence.d/<host>[/<test>]`). */
export function silenceFiles(config: Config): Record<string, string> {
  return Object.fromEntries(
    Object.entries(config.silenceFiles).map(([k, v]) => [`silence.d/${k}`, v]),
  );
}

export function alertSettings(
  config: Config,
): { settings: AlertSettings; problems: ConfigProblem[] } {
  return parseAlertSettings(config);
}

export function silencesOf(config: Config): { silences: Silence[]; problems: ConfigProblem[] } {
  return parseSilences(silenceFiles(config));
}

/**
 * The `tentacle:` section (the reference tentacle_server's config-file keys) as server settings,
 * with a relative `directory` resolved against the config tree; null when there is no section.
 */
export function tentacleSettings(
  config: Config,
): { settings: ServerSettings | null; problems: ConfigProblem[] } {
  const section = config.settings.sections.tentacle;
  if (section === undefined || section === null) return { settings: null, problems: [] };
  const fail = (message: string) => ({
    settings: null,
    problems: [{ file: "dmonitor.yaml", key: "tentacle", message }],
  });
  if (typeof section !== "object" || Array.isArray(section)) {
    return fail("must be a mapping of tentacle_server config-file keys (directory, port, ...)");
  }
  const s = { ...(section as Record<string, unknown>) };
  if (typeof s.directory === "string" && !isAbsolute(s.directory)) {
    s.directory = resolve(config.root, s.directory);
  }
  try {
    return { settings: serverSettingsFromConfig(s), problems: [] };
  } catch (e) {
    return fail((e as Error).message.replace(/^tentacle-server: /, ""));
  }
}

/** Who plugins run as: `plugin_user` when the node is root; undefined when it is not. */
export async function pluginUser(config: Config): Promise<RunAs | null | undefined> {
  if (Deno.uid() !== 0) return undefined;
  if (config.settings.plugin_user === "root") return null;
  return await resolveUser(config.settings.plugin_user);
}

/** A node with peers needs the shared key (its format is checked where peer.key is parsed). */
function peerKeyProblems(c: Config): ConfigProblem[] {
  if (c.peers.length === 0 || c.peerKey !== null) return [];
  try {
    checkPeerKeyRequirement(c);
    return [];
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
}

export const VALIDATORS: ((c: Config) => ConfigProblem[])[] = [
  (c) => alertSettings(c).problems,
  (c) => silencesOf(c).problems,
  statusProblems,
  (c) => tentacleSettings(c).problems,
  (c) => parsePeerSettings(c).problems,
  peerKeyProblems,
  spoolProblems,
  syncProblems,
  runAsProblems,
];

export function loadNodeConfig(dir: string): Promise<Config> {
  return loadConfig(dir, {
    builtins: BUILTIN_CHECKS,
    hostname: hostname(),
    validators: VALIDATORS,
  });
}
