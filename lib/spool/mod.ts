/**
 * The site side of isolated networks: a node with a `spool:` section writes its check results and
 * its incident notifications as Pandora agent data files into a bounded spool directory (the site's
 * Tentacle directory, or an outgoing queue it sends to the site's Tentacle server), and can pick up
 * a configuration bundle pushed by the central node, validate it and apply it.
 *
 * Wiring in `dmonitor run` (see README.md beside this file):
 *
 * ```ts
 * const spool = await startSpool(config, { logger, reload: onHup, parseTree });
 * // every check result:             spool?.addResult(result)
 * // every incident notification:    await spool?.notify(notification)  (durable when it resolves)
 * // on stop:                        await spool?.close()
 * ```
 * @module
 */
export {
  attr,
  cdata,
  DATA_FILE,
  dataFileName,
  DROPPED_MODULE,
  INCIDENTS_FORMAT,
  INCIDENTS_MODULE,
  md5hex,
  moduleName,
  pandoraTimestamp,
  renderAgentData,
} from "./agent_xml.ts";
export { fileTime, listSpool, planDrops, pruneSpool, type SpoolFile } from "./bound.ts";
export {
  badBundlePath,
  type Bundle,
  BUNDLE_CONF,
  BUNDLE_MD5,
  bundleMd5,
  decodeBundle,
  encodeBundle,
  MANAGED_DIRS,
} from "./bundle.ts";
export {
  appliedMd5,
  applyConfigBundle,
  type ApplyOutcome,
  mergeTree,
  type ParseTree,
  rollForward,
} from "./config_apply.ts";
export { clientOptions, fetchBundle, readLocalBundle, sendSpool } from "./sender.ts";
export {
  parseBytes,
  parseSpoolSection,
  SPOOL_DEFAULTS,
  SPOOL_KEYS,
  spoolSection,
  type SpoolSettings,
} from "./settings.ts";
export { nextSecond, splitBatches, type SpoolStats, SpoolWriter, writeAtomic } from "./writer.ts";
export { type Spool, type SpoolDeps, type SpoolRuntimeStats, startSpool } from "./spool.ts";
