/**
 * `dmonitor init [DIR]`: writes a commented example tree, the shipped plugins and a fresh
 * peer.key. Never overwrites a file.
 * @module
 */
import { resolve } from "node:path";
import { BUILTIN_CHECKS } from "../checks/mod.ts";
import { DEFAULT_CONFIG_DIR } from "../config/mod.ts";
import { UsageError } from "../errors/mod.ts";
import { InitError, writeInit } from "../init/mod.ts";
import { type Io, parseFlags } from "./args.ts";

export const INIT_USAGE = `Usage: dmonitor init [--merge] [DIR]

Creates a configuration tree in DIR (default ${DEFAULT_CONFIG_DIR}): a commented dmonitor.yaml,
nodes.txt, an example test in hosts.d/, alert.d/, the shipped plugins in plugins/ (script versions
of built-in checks go to examples/plugins/, so they do not replace the built-ins), and a fresh
random peer.key (mode 0600) to copy to every node of the cluster.
Refuses when any of those files already exists; --merge instead adds only the missing ones and
keeps every existing file as it is (what install.sh does on upgrades).
Exit status: 0 on success, 1 when a file is in the way or cannot be written, 64 on a usage error.`;

export async function initCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseFlags("init", args, { merge: { type: "boolean" } });
  if (values.help) {
    io.out(INIT_USAGE);
    return 0;
  }
  if (positionals.length > 1) {
    throw new UsageError(
      `dmonitor init: expected at most one DIR, got ${positionals.length} (see 'dmonitor init --help')`,
    );
  }
  const dir = resolve(positionals[0] ?? DEFAULT_CONFIG_DIR);
  try {
    const r = await writeInit(dir, {
      merge: values.merge,
      builtins: new Set(BUILTIN_CHECKS.keys()),
    });
    for (const p of r.created) io.out(`created ${dir}/${p}`);
    if (values.merge) {
      io.out(`${dir}: ${r.created.length} file(s) added, ${r.kept.length} kept as they were`);
    } else {
      io.out(`
Next: add tests under ${dir}/hosts.d/<host>/<test>, recipients as empty files in ${dir}/alert.d/,
peers in ${dir}/nodes.txt (with the same peer.key on every node), then run
  dmonitor config check --config ${dir}`);
    }
    return 0;
  } catch (e) {
    if (!(e instanceof InitError)) throw e;
    io.err(
      `dmonitor init: ${e.message}${
        e.paths.length ? " (use --merge to add only what is missing)" : ""
      }`,
    );
    return 1;
  }
}
