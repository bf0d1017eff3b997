/**
 * The config validator for what dmonitor runs: every plugin a test uses and every `.command`
 * alert channel, under the rules of trust.ts. `dmonitor config check`, `dmonitor run` at start
 * and every reload use it (lib/node/load.ts VALIDATORS); the runner and the command channel apply
 * the same rules with the same messages before each run, since files can change in between.
 * @module
 */
import type { Config } from "../config/types.ts";
import type { ConfigProblem } from "../errors/mod.ts";
import type { RunAs } from "./safety.ts";
import { trustProblemSync } from "./trust.ts";
import { lookupPasswd } from "./user.ts";

/** The parts of {@link Config} the validator reads. */
export type TrustConfigInput = Pick<Config, "root" | "tests" | "alertFiles"> & {
  settings: Pick<Config["settings"], "plugin_user">;
};

export interface TrustEnv {
  /** dmonitor's uid (default `Deno.uid()`). */
  uid?: number | null;
  /** passwd-format text for `plugin_user` (default: /etc/passwd). */
  passwd?: () => string;
}

/**
 * Every plugin or `.command` the node would refuse to run, once per executable: tree plugins are
 * reported on `plugins/check_<test>`, a `plugin:` path on the first test file naming it (with how
 * many others do), a command on its `alert.d/<name>.command`. The message is the run-time reason.
 *
 * @example
 * ```ts
 * pluginTrustProblems(config);
 * // [{ file: "plugins/check_disk", key: "",
 * //    message: "/etc/dmonitor/plugins is writable by group (mode 0775); run chmod go-w on it" }]
 * ```
 */
export function pluginTrustProblems(config: TrustConfigInput, env: TrustEnv = {}): ConfigProblem[] {
  const nodeUid = env.uid === undefined ? Deno.uid() : env.uid;
  const root = config.root.replace(/\/+$/, "");
  const plugins = new Map<string, { file: string; key: string; users: number }>();
  for (const t of config.tests) {
    if (t.executor.kind !== "plugin") continue;
    const path = t.executor.path;
    const seen = plugins.get(path);
    if (seen) seen.users++;
    else if (path.startsWith(`${root}/plugins/`)) {
      plugins.set(path, { file: path.slice(root.length + 1), key: "", users: 1 });
    } else plugins.set(path, { file: t.file, key: "plugin", users: 1 });
  }
  const commands = Object.keys(config.alertFiles)
    .map((k) => `alert.d/${k.replace(/^alert\.d\//, "")}`)
    .filter((file) => /\.command$/.test(file))
    .sort();
  if (plugins.size === 0 && commands.length === 0) return [];

  const problems: ConfigProblem[] = [];
  let runAs: RunAs | null = null;
  if (nodeUid === 0 && config.settings.plugin_user !== "root") {
    const name = config.settings.plugin_user;
    let text: string | null = null;
    try {
      text = (env.passwd ?? (() => Deno.readTextFileSync("/etc/passwd")))();
    } catch {
      problems.push({
        file: "dmonitor.yaml",
        key: "plugin_user",
        message: `cannot be resolved: cannot read /etc/passwd, got ${JSON.stringify(name)}`,
      });
    }
    runAs = text === null ? null : lookupPasswd(text, name);
    if (text !== null && runAs === null) {
      problems.push({
        file: "dmonitor.yaml",
        key: "plugin_user",
        message: `names no user in /etc/passwd, got ${JSON.stringify(name)}`,
      });
    }
    if (runAs === null) return problems;
  }
  const o = { nodeUid, runAs };
  for (const [path, { file, key, users }] of plugins) {
    const why = trustProblemSync(path, o);
    if (why === null) continue;
    const others = key && users > 1 ? ` (and ${users - 1} more test${users > 2 ? "s" : ""})` : "";
    problems.push({ file, key, message: why + others });
  }
  // Commands run as plugin_user when dmonitor is root, like plugins (lib/alerts/command.ts).
  for (const file of commands) {
    const why = trustProblemSync(`${root}/${file}`, o);
    if (why !== null) problems.push({ file, key: "", message: why });
  }
  return problems;
}
