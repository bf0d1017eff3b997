/**
 * Sending the spool to the site's Tentacle server (when it runs on another machine): one session,
 * every data file oldest first with SEND, each deleted here only after the server's second
 * `SEND OK` (which a dmonitor server gives only once the file is durable). The same session can
 * fetch a configuration bundle pushed by the central node (RECV of the `.md5`, then the `.conf`).
 * @module
 */
import { join } from "node:path";
import { ProtocolError } from "../errors/mod.ts";
import type { Logger } from "../log/mod.ts";
import {
  clientOptionsFrom,
  isBusyReply,
  TentacleClient,
  type TentacleClientOptions,
} from "../tentacle/mod.ts";
import { listSpool } from "./bound.ts";
import { BUNDLE_CONF, BUNDLE_MD5 } from "./bundle.ts";
import type { SendTo } from "./settings.ts";

export interface SendOutcome {
  sent: number;
  /** Files the server refused (other than "already exists"); they stay for the next round. */
  refused: number;
}

/** Tentacle client options for a `send_to` target. */
export function clientOptions(t: SendTo): TentacleClientOptions {
  return clientOptionsFrom(t, { probe: false });
}

/** Sends every data file of `dir` over `client`, oldest first; deletes each once accepted. */
export async function sendSpool(
  client: TentacleClient,
  dir: string,
  log: Logger,
): Promise<SendOutcome> {
  const files = (await listSpool(dir)).sort((a, b) =>
    a.time - b.time || (a.name < b.name ? -1 : 1)
  );
  let sent = 0;
  let refused = 0;
  for (const f of files) {
    const path = join(dir, f.name);
    try {
      await client.send(f.name, path);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) continue; // dropped by the bounds meanwhile
      if (!(e instanceof ProtocolError)) throw e;
      const reply = e.reply ?? "";
      if (isBusyReply(reply)) throw e; // try the whole round again later
      if (reply !== "SEND ERR (file already exists)") {
        refused++;
        log.warn("site server refused a spool file; kept for later", { file: f.name, reply });
        continue;
      }
      // Already there: we were stopped after the server stored it and before we deleted it.
    }
    await Deno.remove(path).catch((e) => {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    });
    sent++;
  }
  return { sent, refused };
}

/**
 * Fetches the pushed bundle if its `.md5` differs from `known`: returns the pair, or null when
 * there is none or it is unchanged. Works with reference servers (RECV needs no insecure mode).
 */
export async function fetchBundle(
  client: TentacleClient,
  known: string | null,
): Promise<{ conf: Uint8Array; md5: string } | null> {
  const tmp = await Deno.makeTempDir({ prefix: "dmonitor-config-in-" });
  try {
    const md5Path = join(tmp, BUNDLE_MD5);
    try {
      await client.recv(BUNDLE_MD5, md5Path);
    } catch (e) {
      if (e instanceof ProtocolError && /^RECV ERR/.test(e.reply ?? "")) return null;
      throw e;
    }
    const md5 = (await Deno.readTextFile(md5Path)).trim().toLowerCase();
    if (md5 === known) return null;
    const confPath = join(tmp, BUNDLE_CONF);
    try {
      await client.recv(BUNDLE_CONF, confPath);
    } catch (e) {
      if (e instanceof ProtocolError && /^RECV ERR/.test(e.reply ?? "")) return null;
      throw e;
    }
    return { conf: await Deno.readFile(confPath), md5 };
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}

/** Reads a bundle pushed into a local Tentacle directory (`conf/`+`md5/` filters, or the root). */
export async function readLocalBundle(
  dir: string,
): Promise<{ conf: Uint8Array; md5: string } | null> {
  for (
    const [c, m] of [[join(dir, "conf", BUNDLE_CONF), join(dir, "md5", BUNDLE_MD5)], [
      join(dir, BUNDLE_CONF),
      join(dir, BUNDLE_MD5),
    ]]
  ) {
    try {
      const md5 = await Deno.readTextFile(m!);
      return { conf: await Deno.readFile(c!), md5 };
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }
  return null;
}
