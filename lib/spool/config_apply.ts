/**
 * Applying a configuration bundle on a site node: check the MD5, validate the tree it would produce
 * with the node's own `parseConfig` (the same validators `dmonitor run` uses), and only then swap
 * it in. The swap is crash-safe by roll-forward: the new files are staged in a hidden directory of
 * the configuration tree, a plan is committed with an atomic rename, and the moves are replayed on
 * the next attempt if the node dies half-way. The running node is reloaded by the caller.
 * @module
 */
import { dirname, join } from "node:path";
import type { Config } from "../config/types.ts";
import { type ConfigFiles, readConfigTree, type TreeEntry } from "../config/tree.ts";
import { prepareYaml } from "../config/yaml.ts";
import { ConfigError, formatProblem } from "../errors/mod.ts";
import { type Bundle, bundleMd5, decodeBundle, MANAGED_DIRS } from "./bundle.ts";
import { writeAtomic } from "./writer.ts";

const STAGE = ".dmonitor-config-apply";
const PLAN = "plan.json";
/** Remembers the MD5 of the bundle in force (and of the last one refused), in the tree. */
const APPLIED = ".dmonitor-config.applied";
const REFUSED = ".dmonitor-config.refused";

export type ApplyOutcome =
  | { applied: true; md5: string; files: number }
  | {
    applied: false;
    md5: string;
    reason: "unchanged" | "md5-mismatch" | "refused" | "invalid";
    detail: string;
  };

/** Validates a candidate tree the way `dmonitor run` does (lib/node `parseNodeConfig`); throws ConfigError. */
export type ParseTree = (files: ConfigFiles) => Config;

interface Plan {
  md5: string;
  write: string[];
  remove: string[];
}

const isManaged = (p: string) => MANAGED_DIRS.some((d) => p === d || p.startsWith(d + "/"));

/** The tree as it would be with `bundle` in force: local entries kept, managed ones replaced. Pure. */
export function mergeTree(current: ConfigFiles, bundle: Bundle): ConfigFiles {
  const entries: TreeEntry[] = current.entries.filter((e) => !isManaged(e.path));
  const enc = new TextEncoder();
  const dirs = new Set<string>(["hosts.d"]);
  for (const p of Object.keys(bundle.files)) {
    const parts = p.split("/");
    for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join("/"));
  }
  const all: TreeEntry[] = [...dirs].map((path): TreeEntry => ({
    path,
    kind: "dir",
    content: null,
    mode: 0o755,
    uid: null,
    size: 0,
  }))
    .concat(
      Object.entries(bundle.files).map(([path, content]): TreeEntry => ({
        path,
        kind: "file",
        content,
        mode: 0o644,
        uid: null,
        size: enc.encode(content).length,
      })),
    );
  all.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { root: current.root, entries: [...entries, ...all] };
}

/** Files currently under the managed directories (relative paths). */
async function managedFiles(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string) => {
    let it: AsyncIterable<Deno.DirEntry>;
    try {
      it = Deno.readDir(join(root, rel));
    } catch {
      return;
    }
    try {
      for await (const e of it) {
        const p = `${rel}/${e.name}`;
        if (e.isDirectory) await walk(p);
        else out.push(p);
      }
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  };
  for (const d of MANAGED_DIRS) await walk(d);
  return out.sort();
}

/** The MD5 of the bundle in force, or null. */
export async function appliedMd5(root: string): Promise<string | null> {
  const t = await Deno.readTextFile(join(root, APPLIED)).catch(() => "");
  return /^[0-9a-f]{32}$/.test(t.trim()) ? t.trim() : null;
}

/**
 * Applies a pushed `.conf` (bytes) with its `.md5` text to the tree at `root`, if the MD5 matches,
 * it differs from what is in force, and the resulting tree is valid. Returns what happened; throws
 * only on I/O errors.
 */
export async function applyConfigBundle(
  root: string,
  conf: Uint8Array,
  md5Text: string,
  parse: ParseTree,
): Promise<ApplyOutcome> {
  await rollForward(root);
  const md5 = bundleMd5(conf);
  const want = md5Text.trim().toLowerCase();
  if (md5 !== want) {
    // A push in progress (.conf replaced, .md5 not yet) or a damaged file: wait for a matching pair.
    return {
      applied: false,
      md5,
      reason: "md5-mismatch",
      detail: `.md5 says ${JSON.stringify(want.slice(0, 40))}, the .conf has ${md5}`,
    };
  }
  if ((await appliedMd5(root)) === md5) {
    return { applied: false, md5, reason: "unchanged", detail: "already in force" };
  }
  const refused = (await Deno.readTextFile(join(root, REFUSED)).catch(() => "")).trim();
  let bundle: Bundle;
  try {
    bundle = decodeBundle(conf);
  } catch (e) {
    await writeAtomic(root, REFUSED, new TextEncoder().encode(md5));
    return {
      applied: false,
      md5,
      reason: refused === md5 ? "refused" : "invalid",
      detail: (e as Error).message,
    };
  }
  const current = await readConfigTree(root);
  await prepareYaml(Object.values(bundle.files));
  try {
    parse(mergeTree(current, bundle));
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    await writeAtomic(root, REFUSED, new TextEncoder().encode(md5));
    const detail = e.problems.map(formatProblem).join("; ");
    return { applied: false, md5, reason: refused === md5 ? "refused" : "invalid", detail };
  }
  // Stage every new file, then commit the plan with one atomic rename.
  const stage = join(root, STAGE);
  await Deno.remove(stage, { recursive: true }).catch(() => {});
  await Deno.mkdir(join(stage, "files"), { recursive: true, mode: 0o700 });
  const enc = new TextEncoder();
  for (const [path, content] of Object.entries(bundle.files)) {
    const dest = join(stage, "files", path);
    await Deno.mkdir(dirname(dest), { recursive: true });
    await writeAtomic(dirname(dest), path.split("/").pop()!, enc.encode(content));
  }
  const keep = new Set(Object.keys(bundle.files));
  const plan: Plan = {
    md5,
    write: [...keep].sort(),
    remove: (await managedFiles(root)).filter((p) => !keep.has(p)),
  };
  await writeAtomic(stage, PLAN, enc.encode(JSON.stringify(plan)));
  await rollForward(root);
  return { applied: true, md5, files: plan.write.length };
}

/**
 * Finishes an interrupted apply (a committed plan in the staging directory), or removes a staging
 * directory that was never committed. Idempotent: every step tolerates having been done already.
 */
export async function rollForward(root: string): Promise<boolean> {
  const stage = join(root, STAGE);
  let plan: Plan;
  try {
    plan = JSON.parse(await Deno.readTextFile(join(stage, PLAN)));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      await Deno.remove(stage, { recursive: true }).catch(() => {});
      return false;
    }
    throw e;
  }
  for (const path of plan.write) {
    const dest = join(root, path);
    await Deno.mkdir(dirname(dest), { recursive: true, mode: 0o755 });
    try {
      await Deno.rename(join(stage, "files", path), dest);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e; // moved before the interruption
    }
  }
  for (const path of plan.remove) await Deno.remove(join(root, path)).catch(() => {});
  // Host directories left empty by removed tests go too (an empty hosts.d/<host> is harmless, but
  // stale names would confuse whoever reads the tree).
  for (const d of MANAGED_DIRS) await removeEmptyDirs(join(root, d), false);
  await writeAtomic(root, APPLIED, new TextEncoder().encode(plan.md5));
  await Deno.remove(stage, { recursive: true });
  return true;
}

async function removeEmptyDirs(dir: string, self: boolean): Promise<void> {
  try {
    for await (const e of Deno.readDir(dir)) {
      if (e.isDirectory) await removeEmptyDirs(join(dir, e.name), true);
    }
    if (!self) return;
    for await (const _ of Deno.readDir(dir)) return;
    await Deno.remove(dir);
  } catch {
    // gone already, or not ours to clean: leave it
  }
}
