/**
 * The file-tree configuration, compatible with the original dmonitor layout under /etc/dmonitor:
 * `nodes.txt`, `hosts.d/<host>/<test>`, `alert.d/<address>`, `plugins/check_<test>`, plus the
 * optional `dmonitor.yaml` and `peer.key`.
 *
 * `readConfigTree` does the I/O, `parseConfig` validates purely, `loadConfig` does both.
 * @module
 */
import { ConfigError, type ConfigProblem } from "../errors/mod.ts";
import { type ConfigFiles, readConfigTree } from "./tree.ts";
import { parseConfig, type ParseOptions } from "./parse.ts";
import type { Config, SectionParsers, SectionsOf } from "./types.ts";

export * from "./types.ts";
export { type ConfigFiles, readConfigTree } from "./tree.ts";
export { parseConfig, PEER_KEY_FILE } from "./parse.ts";
export { DEFAULTS } from "./settings.ts";
export { applyFields, fail, type Field, field, type Scope } from "./fields.ts";
export { formatDuration, parseDuration } from "./values.ts";

export const DEFAULT_CONFIG_DIR = "/etc/dmonitor";

/** Reads and parses the tree at `dir`; throws ConfigError naming every problem. */
export async function loadConfig<P extends SectionParsers = Record<never, never>>(
  dir: string,
  opts: ParseOptions<P>,
): Promise<Config<SectionsOf<P>>> {
  let files: ConfigFiles;
  try {
    files = await readConfigTree(dir);
  } catch (e) {
    const why = e instanceof Deno.errors.NotFound ? "does not exist" : (e as Error).message;
    throw new ConfigError([{
      file: dir,
      key: "",
      message: `cannot read the configuration directory: ${why}`,
    }], {
      cause: e,
    });
  }
  const config = parseConfig(files, opts);
  const problems: ConfigProblem[] = [];
  for (const t of config.tests) {
    if (t.executor.kind !== "plugin" || t.executor.path.startsWith(files.root + "/plugins/")) {
      continue;
    }
    try {
      const st = await Deno.stat(t.executor.path);
      if (!st.isFile || (st.mode! & 0o111) === 0) {
        problems.push({
          file: t.file,
          key: "plugin",
          message: `is not an executable file, got ${JSON.stringify(t.executor.path)}`,
        });
      }
    } catch {
      problems.push({
        file: t.file,
        key: "plugin",
        message: `does not exist, got ${JSON.stringify(t.executor.path)}`,
      });
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}
