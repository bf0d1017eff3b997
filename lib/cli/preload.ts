/**
 * What must be loaded before a node started as root drops it, when it runs from source.
 *
 * Under `deno run main.ts` the npm packages are read from DENO_DIR (as root usually
 * /root/.cache/deno), which the node can no longer read once it is `dmonitor` or `nobody`: a
 * lazy import after the drop (the YAML library at a reload, nodemailer at the first email) would
 * fail with "permission denied". The bundle (dist/dmonitor.js) and the compiled binary carry
 * every module, so there the imports stay lazy and cost no memory until used.
 * @module
 */
import { loadYamlLibrary } from "../config/yaml.ts";

/** True under `deno run` of the source tree (not the bundle, not a compiled binary). */
export function runFromSource(): boolean {
  return /\.tsx?$/.test(Deno.mainModule) && !import.meta.url.includes("/deno-compile-");
}

/** Loads the lazily imported npm packages now, when running from source as root. */
export async function preloadBeforeDrop(): Promise<void> {
  if (Deno.uid() !== 0 || !runFromSource()) return;
  await loadYamlLibrary();
  await import("nodemailer");
}
