/**
 * Creating a configuration tree: the commented example tree and the shipped plugins (embedded in
 * the program by import, see embedded.ts) plus a fresh `peer.key`. Planning is pure; writing
 * never replaces an existing file.
 *
 * A shipped plugin named like a built-in check (check_ping, check_tcp, ...) would take that
 * check's place as soon as it sat in plugins/, so those go to examples/plugins/ instead, to be
 * copied into plugins/ by whoever wants the script version.
 * @module
 */
import { fsReason } from "../errors/mod.ts";
import { dirname, join } from "node:path";
import { EMBEDDED_DIRS, EMBEDDED_FILES } from "./embedded.ts";
import type { EmbeddedFile } from "./types.ts";

export type { EmbeddedFile } from "./types.ts";
export { EMBEDDED_DIRS, EMBEDDED_FILES } from "./embedded.ts";

export const PEER_KEY = "peer.key";
export const EXAMPLE_PLUGINS = "examples/plugins";

/** A fresh shared key: 32 random bytes, base64url (43 characters). */
export function generatePeerKey(
  random: (b: Uint8Array) => Uint8Array = (b) => crypto.getRandomValues(b),
): string {
  const bytes = random(new Uint8Array(32));
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(
    /=+$/,
    "",
  );
}

export interface InitPlan {
  dirs: string[];
  /** Files to create, with their modes. */
  write: EmbeddedFile[];
  /** Files that already exist: an error unless merging, else left alone. */
  existing: string[];
}

/** Where a shipped file goes: plugins that share a built-in check's name go to examples/plugins/. */
export function placeFile(f: EmbeddedFile, builtins: ReadonlySet<string>): EmbeddedFile {
  const m = /^plugins\/check_(.+)$/.exec(f.path);
  return m && builtins.has(m[1]!) ? { ...f, path: `${EXAMPLE_PLUGINS}/check_${m[1]}` } : f;
}

/**
 * Decides what `init` writes into a tree whose existing paths are `exists`. Pure.
 * `builtins` names the built-in checks; `pluginsOnly` limits the plan to the shipped plugins.
 */
export function planInit(
  exists: (path: string) => boolean,
  key: string,
  opts: { pluginsOnly?: boolean; builtins?: ReadonlySet<string> } = {},
): InitPlan {
  const builtins = opts.builtins ?? new Set<string>();
  const shipped = EMBEDDED_FILES.map((f) => placeFile(f, builtins));
  const files: EmbeddedFile[] = opts.pluginsOnly
    ? shipped.filter((f) =>
      f.path.startsWith("plugins/") || f.path.startsWith(`${EXAMPLE_PLUGINS}/`)
    )
    : [...shipped, { path: PEER_KEY, mode: 0o600, text: key + "\n" }];
  const dirs = opts.pluginsOnly ? ["plugins"] : [...EMBEDDED_DIRS];
  if (files.some((f) => f.path.startsWith(`${EXAMPLE_PLUGINS}/`))) {
    dirs.push("examples", EXAMPLE_PLUGINS);
  }
  const write: EmbeddedFile[] = [];
  const existing: string[] = [];
  for (const f of files) {
    if (exists(f.path)) existing.push(f.path);
    else write.push(f);
  }
  return { dirs: dirs.filter((d) => !exists(d)), write, existing };
}

/** A file or directory is in the way, or the tree cannot be written. */
export class InitError extends Error {
  override name = "InitError";
  constructor(message: string, readonly paths: string[] = [], options?: ErrorOptions) {
    super(message, options);
  }
}

export interface InitResult {
  root: string;
  created: string[];
  kept: string[];
}

function existsSync(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/**
 * Writes the tree into `root` (created when missing). Without `merge`, refuses (InitError) when any
 * file it would write exists; with `merge`, writes only the missing ones. Never overwrites.
 */
export async function writeInit(
  root: string,
  opts: { merge?: boolean; pluginsOnly?: boolean; key?: string; builtins?: ReadonlySet<string> } =
    {},
): Promise<InitResult> {
  let plan: ReturnType<typeof planInit>;
  try {
    plan = planInit((p) => existsSync(join(root, p)), opts.key ?? generatePeerKey(), opts);
  } catch (e) {
    throw new InitError(`Cannot open ${root}: ${fsReason(e)}`, [], { cause: e });
  }
  if (plan.existing.length > 0 && !opts.merge) {
    throw new InitError(
      `refusing to overwrite ${plan.existing.length} existing file(s) in ${root}: ` +
        plan.existing.join(", "),
      plan.existing,
    );
  }
  try {
    await Deno.mkdir(root, { recursive: true, mode: 0o755 });
    for (const d of plan.dirs) {
      await Deno.mkdir(join(root, d), { recursive: true, mode: 0o755 });
      await Deno.chmod(join(root, d), 0o755);
    }
    for (const f of plan.write) {
      const path = join(root, f.path);
      await Deno.mkdir(dirname(path), { recursive: true, mode: 0o755 });
      // createNew: if something appeared meanwhile, fail rather than replace it.
      await Deno.writeTextFile(path, f.text, { createNew: true, mode: f.mode });
      await Deno.chmod(path, f.mode);
    }
  } catch (e) {
    const why = e instanceof Deno.errors.AlreadyExists
      ? "a file appeared while writing"
      : fsReason(e);
    throw new InitError(`cannot write the configuration tree ${root}: ${why}`, [], { cause: e });
  }
  return { root, created: plan.write.map((f) => f.path), kept: plan.existing };
}
