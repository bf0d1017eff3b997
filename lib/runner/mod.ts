/**
 * The sandboxed plugin runner: runs `check_*` executables (dmonitor or Nagios contract) without a
 * shell, in a clean environment, as `plugin_user` when the node is root, with capped output and a
 * timeout that kills the plugin's whole process group.
 *
 * @example
 * ```ts
 * import { PluginRunner, resolveUser } from "./lib/runner/mod.ts";
 *
 * const runner = new PluginRunner({ concurrency: 16, user: await resolveUser("nobody") });
 * const result = await runner.run({
 *   host: "www.example.com",
 *   test: "http",
 *   path: "/etc/dmonitor/plugins/check_http",
 *   params: { port: 8080 },
 *   timeoutMs: 10_000,
 * });
 * console.log(result.status, result.output);
 * ```
 * @module
 */
export type { CheckResult, RawState, Status } from "./result.ts";
export {
  formatPerfItem,
  MAX_PERF_ITEMS,
  parsePerfdata,
  type PerfItem,
  type PerfParse,
} from "./perfdata.ts";
export {
  buildPluginEnv,
  envName,
  OUTPUT_CAP,
  PLUGIN_PATH,
  type PluginSpec,
  type RunDeps,
  runPlugin,
} from "./run.ts";
export { Limiter, PluginRunner, type PluginRunnerOptions } from "./limiter.ts";
export {
  MAX_LINE_BYTES,
  type ParsedOutput,
  type ParseOptions,
  parsePluginOutput,
  sanitizeLine,
  statusOf,
} from "./parse.ts";
export type { RunAs } from "./safety.ts";
export {
  dirProblem,
  type EntryInfo,
  fileProblem,
  type TrustOptions,
  trustProblem,
  trustProblemSync,
} from "./trust.ts";
export { pluginTrustProblems, type TrustConfigInput, type TrustEnv } from "./validate.ts";
export { lookupPasswd, resolveUser } from "./user.ts";
