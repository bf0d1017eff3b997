/**
 * A running node: configuration composed from every part's section parser, the resources it
 * holds open, alerting, the HTTP app, reload planning and the composition root.
 * @example
 * const daemon = await startDaemon("/etc/dmonitor", { logger, signal, version });
 * await daemon.done;
 * @module
 */
export { type Daemon, startDaemon } from "./daemon.ts";
export {
  hostname,
  loadNodeConfig,
  type NodeConfig,
  nodeSections,
  parseNodeConfig,
  pluginUser,
  VALIDATORS,
} from "./load.ts";
export { loadResources, type Resources } from "./resources.ts";
export { type Alerting, createAlerting } from "./alerting.ts";
export { buildNodeApp } from "./http.ts";
export { planReload, type ReloadPlan } from "./reload.ts";
export { Node, type NodeDeps, type ResultHook, testKey } from "./node.ts";
export { createExecutor, type Executor } from "./execute.ts";
