/**
 * What must be loaded before a node started as root drops it, when it runs from source.
 *
 * Under `deno run main.ts` the npm packages are read from DENO_DIR (as root usually
 * /root/.cache/deno), which the node can no longer read once it is `dmonitor` or `nobody`: a
 * lazy import after the drop (the YAML library at a reload, nodemailer at the first email) would
 * fail with "permission denied". The bundle (dist/dmonitor.js) and the compiled binary carry
 * every module, so there the imports stay lazy and cost no memory until used.
 *
 * nodemailer is preloaded only for a tree with email recipients: it brings node:net, node:tls,
 * node:http, node:dns and node:stream with it (issue 14: several MiB of Node compatibility layer
 * on every node). A tree that gains its first recipient at a reload then cannot load it after
 * the drop; lib/alerts/smtp.ts says so ("restart the node") in the delivery error.
 * @module
 */
import { loadYamlLibrary } from "../config/yaml.ts";

/** True under `deno run` of the source tree (not the bundle, not a compiled binary). */
export function runFromSource(): boolean {
  return /\.tsx?$/.test(Deno.mainModule) && !import.meta.url.includes("/deno-compile-");
}

/** Loads the lazily imported npm packages now, when running from source as root. */
export async function preloadBeforeDrop(o: { mail: boolean }): Promise<void> {
  if (Deno.uid() !== 0 || !runFromSource()) return;
  await loadYamlLibrary();
  if (o.mail) await import("nodemailer");
}
