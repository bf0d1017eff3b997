/**
 * Tentacle, Pandora FMS's file-transfer protocol: a server and a client that speak it byte for
 * byte as the Perl reference scripts do (server v0.6.2, client v0.4.0), stream bodies in constant
 * memory, never expose partial files, and between two dmonitor ends add a safe move that deletes
 * a file only after the puller confirmed its length and SHA-256. Design notes: README.md here.
 * @module
 */

export { startTentacleServer, type TentacleServer, type TentacleServerOptions } from "./server.ts";
export {
  type MoveResult,
  TentacleClient,
  type TentacleClientOptions,
  type TentacleClientTls,
} from "./client.ts";
export { clientOptionsFrom, type TentacleTarget } from "./client_options.ts";
export { completeTemp } from "./client_io.ts";
export { type CliDeps, tentacleClientMain, tentacleServerMain } from "./cli.ts";
export { resolveServerSettings, type ServerSettings, serverSettingsFromConfig } from "./options.ts";
export {
  checkName,
  type Command,
  DEFAULT_PORT,
  type Filter,
  isBusyReply,
  parseCommand,
  parseFilters,
} from "./protocol.ts";
export { passwordDigest } from "./password.ts";
