/**
 * Reads the configuration tree from disk and nothing else: no validation beyond what reading
 * needs. `parseConfig` turns the result into typed settings.
 * @module
 */
import { join, resolve } from "node:path";
import {
  inspectTreeEntrySync,
  listTreeDirSync,
  readTreeFileSync,
  treeFileDetail,
  TreeFileError,
} from "../fsafe/mod.ts";
import { prepareYaml } from "./yaml.ts";

/** What kind of directory entry a path is. */
export type EntryKind = "file" | "dir" | "other";

export interface TreeEntry {
  /** Path relative to the root, with `/` separators, e.g. `hosts.d/www/ssh`. */
  path: string;
  kind: EntryKind;
  /** Text content for files that are read (not plugins); null when not read or too large. */
  content: string | null;
  /** Permission bits and owner, for files whose safety matters (plugins, peer.key). */
  mode: number | null;
  uid: number | null;
  size: number;
  /** For kind "other": what was found instead of a file ("a FIFO", "a link to /dev/zero, ..."). */
  what?: string;
}

/** The raw tree: every entry dmonitor looks at, in a stable order. */
export interface ConfigFiles {
  root: string;
  entries: TreeEntry[];
}

/** One decoder for every file: each TextDecoder holds native converter state. */
const DECODER = new TextDecoder();

/** Files above this size are listed but not read; the parser reports them. */
export const MAX_FILE_BYTES = 256 * 1024;

/** Directories under the root and how deep dmonitor reads them; `read` says whether contents matter. */
const LAYOUT: { dir: string; depth: number; read: boolean }[] = [
  { dir: "hosts.d", depth: 2, read: true },
  { dir: "alert.d", depth: 1, read: true },
  { dir: "silence.d", depth: 2, read: true },
  { dir: "plugins", depth: 1, read: false },
];
const TOP_FILES = ["dmonitor.yaml", "nodes.txt", "peer.key"];

/** Editor and package-manager leftovers that are never configuration. */
export function isIgnoredName(name: string): boolean {
  return name.startsWith(".") || name.endsWith("~") ||
    /\.(swp|dpkg-[a-z]+|rpmnew|rpmsave|bak|orig)$/.test(name);
}

/**
 * Reads the tree rooted at `dir`. Throws only when `dir` itself cannot be read. Synchronous inside:
 * a tree is a few thousand small files, and async reads would run on the blocking thread pool,
 * where each thread's malloc arena costs resident memory (about 13 MB for 1,000 tests).
 */
export async function readConfigTree(dir: string): Promise<ConfigFiles> {
  const files = readConfigTreeSync(dir);
  // The parsers that follow are pure and synchronous: load the YAML library now if a file that
  // is decoded as YAML needs it (nodes.txt and peer.key never are).
  await prepareYaml(
    files.entries.filter((e) => e.path !== "nodes.txt" && e.path !== "peer.key").map((e) =>
      e.content
    ),
  );
  return files;
}

function readConfigTreeSync(dir: string): ConfigFiles {
  const root = resolve(dir);
  const st = Deno.statSync(root);
  if (!st.isDirectory) throw new Error(`${root} is not a directory`);
  const entries: TreeEntry[] = [];
  for (const name of TOP_FILES) {
    const e = readEntry(root, name, true);
    if (e) entries.push(e);
  }
  for (const { dir: sub, depth, read } of LAYOUT) {
    walk(root, sub, depth, read, entries);
  }
  return { root, entries };
}

function walk(root: string, rel: string, depth: number, read: boolean, out: TreeEntry[]) {
  const self = readEntry(root, rel, read);
  if (!self) return;
  out.push(self);
  if (self.kind !== "dir" || depth === 0) return;
  const names = listTreeDirSync(join(root, rel)).map((d) => d.name).filter((n) =>
    !isIgnoredName(n)
  );
  for (const name of names) walk(root, `${rel}/${name}`, depth - 1, read, out);
}

/**
 * One entry, classified without opening it; a file's content is read through lib/fsafe, so only
 * a regular file (checked again on the opened handle) is read, and never more than the cap.
 */
function readEntry(root: string, rel: string, read: boolean): TreeEntry | null {
  const full = join(root, rel);
  const d = inspectTreeEntrySync(full);
  if (!d) return null;
  const entry: TreeEntry = {
    path: rel,
    kind: d.kind,
    content: null,
    mode: d.mode,
    uid: d.uid,
    size: d.size,
    ...(d.kind === "other" ? { what: d.what } : {}),
  };
  if (d.kind !== "file" || !read || d.size > MAX_FILE_BYTES) return entry;
  try {
    entry.content = DECODER.decode(readTreeFileSync(full, { maxBytes: MAX_FILE_BYTES }));
  } catch (e) {
    if (!(e instanceof TreeFileError)) throw e;
    if (e.reason === "missing") return null; // removed since it was listed
    if (e.reason === "too-large") entry.size = e.size ?? entry.size;
    else if (e.reason === "not-regular") {
      entry.kind = "other";
      entry.what = treeFileDetail(e).replace(/^it (is|was) /, "").replace(/; only .*$/, "");
    } else throw e;
  }
  return entry;
}
