/**
 * What must be loaded before a node started as root drops it, when it runs from source.
 *
 * Under `deno run main.ts` the npm packages are read from DENO_DIR (as root usually
 * /root/.cache/deno), which the node can no longer read once it is `dmonitor` or `nobody`: a
 * lazy import after the drop (the YAML library at a reload, nodemailer at the first email) would
 * fail with "permission denied". The bundle (dist/dmonitor.js) and the compiled binary carry
 * every module, so there the imports stay lazy and cost no memory until used.
 *
 * So each is loaded here only when the tree at start needs it, not "in case" (issue 14): the YAML
 * library is already loaded by then when a file of the tree needs it (npm:yaml is CommonJS, and
 * Deno's CommonJS loader with it costs about 10 MiB resident), and nodemailer (13 MiB, with
 * node:net, node:tls, node:http and node:stream) only for a tree with email recipients. A tree
 * that needs either only from a reload on cannot load it after the drop: the reload is refused,
 * or the mail fails, with a message that says to restart the node (lib/config/yaml.ts,
 * lib/alerts/smtp.ts).
 * @module
 */

/** True under `deno run` of the source tree (not the bundle, not a compiled binary). */
export function runFromSource(): boolean {
  return /\.tsx?$/.test(Deno.mainModule) && !import.meta.url.includes("/deno-compile-");
}

/** Loads the lazily imported npm packages now, when running from source as root. */
export async function preloadBeforeDrop(o: { mail: boolean }): Promise<void> {
  if (Deno.uid() !== 0 || !runFromSource()) return;
  if (o.mail) await import("nodemailer");
}
