/**
 * Loading the configuration the way every command does: the real built-in checks, the real host
 * name.
 * @module
 */
import { BUILTIN_CHECKS } from "../checks/mod.ts";
import { type Config, loadConfig } from "../config/mod.ts";

export function hostname(): string {
  try {
    return Deno.hostname().split(".")[0] || "localhost";
  } catch {
    return "localhost";
  }
}

export function loadNodeConfig(dir: string): Promise<Config> {
  return loadConfig(dir, { builtins: BUILTIN_CHECKS, hostname: hostname() });
}
