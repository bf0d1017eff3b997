/**
 * The configuration bundle the central node pushes to a site: the site's shared check definitions
 * (`hosts.d/` and `silence.d/`) as one deterministic JSON file `dmonitor-config.conf`, with its MD5
 * in `dmonitor-config.md5` — the `.conf`/`.md5` pair shape Pandora's sync server pushes. Node-local
 * files (dmonitor.yaml, nodes.txt, peer.key, plugins/) are never part of it: they differ per node,
 * hold secrets, or are executables that must not arrive over the network. Pure.
 * @module
 */
import { md5hex } from "./agent_xml.ts";

/** Base name of the pushed pair: `<BUNDLE_BASE>.conf` and `<BUNDLE_BASE>.md5`. */
export const BUNDLE_BASE = "dmonitor-config";
export const BUNDLE_CONF = `${BUNDLE_BASE}.conf`;
export const BUNDLE_MD5 = `${BUNDLE_BASE}.md5`;
/** Top directories of the tree a bundle manages (everything under them is replaced). */
export const MANAGED_DIRS = ["hosts.d", "silence.d"] as const;
export const BUNDLE_FORMAT = 1;
/** Largest bundle accepted (the central refuses to build bigger ones too). */
export const MAX_BUNDLE_BYTES = 8 * 1024 * 1024;

export interface Bundle {
  /** Relative path (`hosts.d/<host>/<test>`, `silence.d/...`) to file content. */
  files: Record<string, string>;
}

/** Why `path` may not be in a bundle, or null when it may. */
export function badBundlePath(path: string): string | null {
  const parts = path.split("/");
  if (!(MANAGED_DIRS as readonly string[]).includes(parts[0]!)) {
    return `is outside ${MANAGED_DIRS.join(" and ")}`;
  }
  const depth = parts[0] === "hosts.d" ? 3 : parts.length;
  if (parts.length < 2 || parts.length > 3 || parts.length !== depth) {
    return parts[0] === "hosts.d"
      ? "must be hosts.d/<host>/<test>"
      : "must be silence.d/<host>[/<test>]";
  }
  for (const p of parts) {
    // deno-lint-ignore no-control-regex
    if (p === "" || p.startsWith(".") || p.endsWith("~") || /[\\\x00-\x1f\x7f]/.test(p)) {
      return "has an empty, hidden or unsafe component";
    }
  }
  return null;
}

/** Encodes a bundle deterministically (sorted paths, no timestamps), so equal trees give equal MD5s. */
export function encodeBundle(b: Bundle): Uint8Array {
  const files: Record<string, string> = {};
  for (const k of Object.keys(b.files).sort()) files[k] = b.files[k]!;
  return new TextEncoder().encode(
    JSON.stringify({ dmonitor_config_bundle: BUNDLE_FORMAT, files }, null, 1) + "\n",
  );
}

/** The `.md5` companion: the lowercase hex MD5 of the `.conf` bytes, as Pandora writes it. */
export function bundleMd5(conf: Uint8Array): string {
  return md5hex(conf);
}

/** Decodes and checks a bundle; throws an Error naming what is wrong. */
export function decodeBundle(bytes: Uint8Array): Bundle {
  if (bytes.length > MAX_BUNDLE_BYTES) throw new Error(`bundle is too big (${bytes.length} bytes)`);
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (e) {
    throw new Error(`bundle is not valid JSON: ${(e as Error).message}`);
  }
  const d = doc as { dmonitor_config_bundle?: unknown; files?: unknown };
  if (typeof doc !== "object" || doc === null || d.dmonitor_config_bundle !== BUNDLE_FORMAT) {
    throw new Error(`bundle is not a dmonitor configuration bundle of format ${BUNDLE_FORMAT}`);
  }
  if (typeof d.files !== "object" || d.files === null || Array.isArray(d.files)) {
    throw new Error("bundle has no 'files' mapping");
  }
  const files: Record<string, string> = {};
  for (const [path, content] of Object.entries(d.files as Record<string, unknown>)) {
    const why = badBundlePath(path);
    if (why) throw new Error(`bundle path ${JSON.stringify(path)} ${why}`);
    if (typeof content !== "string") {
      throw new Error(`bundle file ${JSON.stringify(path)} is not text`);
    }
    files[path] = content;
  }
  return { files };
}
