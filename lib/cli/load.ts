/**
 * Loading the configuration the way every command does: the real built-in checks, the real host
 * name, and the validators of every part that owns a section of the tree.
 * @module
 */
import { BUILTIN_CHECKS } from "../checks/mod.ts";
import { type Config, loadConfig } from "../config/mod.ts";
import type { ConfigProblem } from "../errors/mod.ts";
import { statusProblems } from "../status/mod.ts";
import { type AlertSettings, parseAlertSettings, parseSilences, type Silence } from "../alerts/mod.ts";

export function hostname(): string {
  try {
    return Deno.hostname().split(".")[0] || "localhost";
  } catch {
    return "localhost";
  }
}

/** Silence files keyed as the alerts part expects them (`silence.d/<host>[/<test>]`). */
export function silenceFiles(config: Config): Record<string, string> {
  return Object.fromEntries(Object.entries(config.silenceFiles).map(([k, v]) => [`silence.d/${k}`, v]));
}

export function alertSettings(config: Config): { settings: AlertSettings; problems: ConfigProblem[] } {
  return parseAlertSettings(config);
}

export function silencesOf(config: Config): { silences: Silence[]; problems: ConfigProblem[] } {
  return parseSilences(silenceFiles(config));
}

export const VALIDATORS: ((c: Config) => ConfigProblem[])[] = [
  (c) => alertSettings(c).problems,
  (c) => silencesOf(c).problems,
  statusProblems,
];

export function loadNodeConfig(dir: string): Promise<Config> {
  return loadConfig(dir, { builtins: BUILTIN_CHECKS, hostname: hostname(), validators: VALIDATORS });
}
