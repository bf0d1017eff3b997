/**
 * The I/O half of starting from a parsed configuration: the files the settings point at (status
 * token, peer TLS certificates, SMTP password and CA, alert commands). `dmonitor run`, a reload and
 * `dmonitor config check` all go through {@link loadResources}, so a check refuses what a start
 * would, with every problem at once.
 * @module
 */
import { buildChannels, type BuiltChannels } from "../alerts/mod.ts";
import { ConfigError, type ConfigProblem } from "../errors/mod.ts";
import { loadPeerTls, type PeerTls } from "../peers/mod.ts";
import { loadStatusAccess, type StatusAccess } from "../status/mod.ts";
import { loadPgFiles, type PgConnect } from "../pg/files.ts";
import type { NodeConfig } from "./load.ts";

/** What a node holds open from its configuration; `close` releases the channels and the client. */
export interface Resources {
  access: StatusAccess;
  peerTls: PeerTls;
  channels: BuiltChannels;
  /** The shared store's settings and the files they name (`store:`); null: SQLite. */
  store: PgConnect | null;
  close(): void;
}

async function collect<T>(p: Promise<T>, problems: ConfigProblem[]): Promise<T | null> {
  try {
    return await p;
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    problems.push(...e.problems);
    return null;
  }
}

/** Reads every file the configuration points at; throws one ConfigError listing every problem. */
export async function loadResources(config: NodeConfig): Promise<Resources> {
  const problems: ConfigProblem[] = [];
  const s = config.sections;
  const [access, peerTls, channels, store] = await Promise.all([
    collect(loadStatusAccess(s.status, config.root), problems),
    collect(loadPeerTls(s.peer), problems),
    collect(buildChannels(s.alerts), problems),
    s.store ? collect(loadPgFiles(s.store), problems) : Promise.resolve(null),
  ]);
  const close = () => {
    channels?.close();
    peerTls?.client?.close();
  };
  if (problems.length > 0 || !access || !peerTls || !channels) {
    close();
    throw new ConfigError(problems);
  }
  return { access, peerTls, channels, store, close };
}
