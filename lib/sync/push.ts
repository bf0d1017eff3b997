/**
 * Config push, as Pandora's sync server does it: the central tree holds each site's configuration
 * (`sites.d/<site>/hosts.d/...`, `sites.d/<site>/silence.d/...`); when it differs from what the
 * site holds, it is sent with SEND (the site's server must allow overwriting) as a `.conf`/`.md5`
 * pair — the `.conf` first, so a site never sees a new `.md5` next to an old `.conf`; a site node
 * applies a pair only when they match (lib/spool/config_apply.ts).
 * @module
 */
import { join } from "node:path";
import { ProtocolError } from "../errors/mod.ts";
import type { Logger } from "../log/mod.ts";
import {
  badBundlePath,
  type Bundle,
  BUNDLE_CONF,
  BUNDLE_MD5,
  bundleMd5,
  encodeBundle,
  MANAGED_DIRS,
  MAX_BUNDLE_BYTES,
} from "../spool/bundle.ts";
import { isIgnoredName } from "../config/tree.ts";
import type { TentacleClient } from "../tentacle/mod.ts";
import { readTreeText } from "../fsafe/mod.ts";

/** Reads `dir` (a `sites.d/<site>` tree) into a bundle; null when the directory does not exist. */
export async function readSiteBundle(dir: string): Promise<Bundle | null> {
  try {
    if (!(await Deno.stat(dir)).isDirectory) return null;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
  const files: Record<string, string> = {};
  let total = 0;
  const walk = async (rel: string, depth: number) => {
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(join(dir, rel)));
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return;
      throw e;
    }
    for (const e of entries) {
      if (isIgnoredName(e.name)) continue;
      const p = `${rel}/${e.name}`;
      if (e.isDirectory && depth > 0) await walk(p, depth - 1);
      else if (e.isFile) {
        const why = badBundlePath(p);
        if (why) throw new Error(`Cannot push ${join(dir, p)}: it ${why}`);
        // Only a regular file, and never more than the bundle can hold (lib/fsafe).
        const text = await readTreeText(join(dir, p), { maxBytes: MAX_BUNDLE_BYTES });
        total += text.length;
        if (total > MAX_BUNDLE_BYTES) {
          throw new Error(`Cannot push ${dir}: more than ${MAX_BUNDLE_BYTES} bytes`);
        }
        files[p] = text;
      }
    }
  };
  for (const d of MANAGED_DIRS) await walk(d, 1);
  return { files };
}

/** What the site holds now (its `.md5`), or null when it holds nothing. */
async function remoteMd5(client: TentacleClient): Promise<string | null> {
  const tmp = await Deno.makeTempDir({ prefix: "dmonitor-push-" });
  try {
    await client.recv(BUNDLE_MD5, join(tmp, BUNDLE_MD5));
    return (await Deno.readTextFile(join(tmp, BUNDLE_MD5))).trim().toLowerCase();
  } catch (e) {
    if (e instanceof ProtocolError && /^RECV ERR/.test(e.reply ?? "")) return null;
    throw e;
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}

/** Pushes `sitesDir/<site>` if it exists and differs from what the site holds. */
export async function pushSiteConfig(
  client: TentacleClient,
  site: string,
  sitesDir: string,
  log: Logger,
): Promise<"pushed" | "unchanged" | "none"> {
  const bundle = await readSiteBundle(join(sitesDir, site));
  if (!bundle) return "none";
  const conf = encodeBundle(bundle);
  const md5 = bundleMd5(conf);
  if ((await remoteMd5(client)) === md5) return "unchanged";
  try {
    await client.send(BUNDLE_CONF, conf);
    await client.send(BUNDLE_MD5, new TextEncoder().encode(md5));
  } catch (e) {
    if (e instanceof ProtocolError && e.reply === "SEND ERR (file already exists)") {
      throw new ProtocolError(
        `Cannot push the configuration to ${site}: its Tentacle server does not allow overwriting (run it with -o, or 'overwrite 1')`,
        e.reply,
        { cause: e },
      );
    }
    throw e;
  }
  log.info("pushed configuration to site", { site, md5, files: Object.keys(bundle.files).length });
  return "pushed";
}
