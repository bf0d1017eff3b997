/**
 * Started as root, `dmonitor run`, `sync` and `tentacle-server` switch to an unprivileged user
 * (`run_as`, default `dmonitor`, else `nobody`) once the configuration and keys are read and before
 * anything listens, parses network input or runs a check. See README, "Privileges".
 * @module
 */
import { dirname, join, resolve } from "node:path";
import type { Config, SectionParser } from "../config/types.ts";
import type { ConfigProblem } from "../errors/mod.ts";
import { PrivilegeError } from "../errors/mod.ts";
import type { Logger } from "../log/mod.ts";
import { switchIds } from "./libc.ts";
import { type DirInfo, type DropPlan, planDrop, stateDirAction } from "./plan.ts";
import { privilegedBy, readThreads } from "./threads.ts";

export { DEFAULT_USER, FALLBACK_USER, planDrop, stateDirAction } from "./plan.ts";
export type { DirInfo, DropPlan, StateDirAction } from "./plan.ts";
export {
  parseStatus,
  parseThreads,
  privilegedBy,
  readThreads,
  type ThreadCreds,
} from "./threads.ts";

/** Validates the raw `run_as` value of dmonitor.yaml. Pure. */
export function runAsProblems(v: unknown): ConfigProblem[] {
  if (v === undefined || v === null) return [];
  if (typeof v === "string" && /^([a-z_][a-z0-9_-]*\$?|\d+)$/i.test(v) && v.length <= 32) return [];
  return [{
    file: "dmonitor.yaml",
    key: "run_as",
    message: `must be a user name (or root to keep root), got ${JSON.stringify(v)}`,
  }];
}

/** `run_as:` for the node's configuration (undefined: the default `dmonitor`, else `nobody`). */
export const runAsSection: SectionParser<string | undefined> = {
  key: "run_as",
  parse(raw, _base, problems) {
    const p = runAsProblems(raw);
    problems.push(...p);
    return p.length === 0 && typeof raw === "string" ? raw : undefined;
  },
};

export interface DropOptions {
  /** The user to switch to; undefined: `dmonitor`, else `nobody`. */
  runAs?: string;
  /** False: root is never kept (tentacle-server). */
  allowRoot?: boolean;
  /** The directory to create or check for the user before the switch. */
  stateDir?: string;
  /** peer.key: made the user's (mode kept) when the user could not read it on a reload. */
  keyFile?: string;
  /** The setting's name in messages (`run_as`). */
  setting?: string;
  logger: Logger;
}

/** What the process runs as afterwards. */
export interface Dropped {
  plan: DropPlan;
  user?: string;
}

/**
 * The node's entry: `run_as`, state_dir and peer.key from `config`. Throws PrivilegeError (one
 * line to print) when the switch is refused or fails.
 */
export async function dropPrivileges(
  config: Config<{ runAs: string | undefined }>,
  logger: Logger,
): Promise<Dropped> {
  const dropped = await dropPrivilegesTo({
    runAs: config.sections.runAs,
    stateDir: resolve(config.root, config.settings.state_dir),
    keyFile: config.peerKey === null ? undefined : join(config.root, "peer.key"),
    logger,
  });
  // As daemons do after a switch: the directory it was started in may be root's only, and every
  // child (plugins, commands) would inherit a working directory it cannot enter. Every path the
  // node keeps is absolute (config root, state dir).
  if (dropped.plan.kind === "drop") Deno.chdir("/");
  return dropped;
}

/** Decides, prepares the state directory, switches every thread, and verifies every thread. */
export async function dropPrivilegesTo(o: DropOptions): Promise<Dropped> {
  const uid = Deno.uid() ?? -1;
  const passwd = uid === 0 || o.runAs !== undefined
    ? await Deno.readTextFile("/etc/passwd").catch(() => "")
    : "";
  const plan = planDrop(uid, o.runAs, passwd, { allowRoot: o.allowRoot, setting: o.setting });
  switch (plan.kind) {
    case "stay":
      if (plan.warning) o.logger.warn(plan.warning);
      return { plan };
    case "keep-root":
      o.logger.warn(plan.warning);
      return { plan, user: "root" };
    case "refuse":
      throw new PrivilegeError(`cannot drop root privileges: ${plan.message}`);
  }
  if (o.stateDir !== undefined) {
    await prepareStateDir(o.stateDir, plan.user, plan.uid, plan.gid, o.logger);
  }
  if (o.keyFile !== undefined) await handKey(o.keyFile, plan.user, plan.uid, o.logger);
  let ids;
  try {
    ids = switchIds(plan.uid, plan.gid);
  } catch (e) {
    throw new PrivilegeError(
      `cannot switch to user ${plan.user} (uid ${plan.uid}): ${(e as Error).message}`,
      undefined,
      { cause: e },
    );
  }
  const all = [
    ids.uid.real,
    ids.uid.effective,
    ids.uid.saved,
    ids.gid.real,
    ids.gid.effective,
    ids.gid.saved,
  ];
  if (all.some((id) => id === 0)) {
    throw new PrivilegeError(
      `switch to user ${plan.user} left an id at 0 (${all.join(",")}); stopping`,
    );
  }
  const threads = await readThreads();
  if (threads.size === 0) {
    throw new PrivilegeError(`cannot read /proc/${Deno.pid}/task after the switch; stopping`);
  }
  for (const [tid, c] of threads) {
    const why = privilegedBy(c);
    if (why) {
      throw new PrivilegeError(
        `thread ${tid} is still privileged after the switch: ${why}; stopping`,
      );
    }
  }
  o.logger.info("dropped root privileges", {
    user: plan.user,
    uid: plan.uid,
    gid: plan.gid,
    ...(plan.note ? { why: plan.note } : {}),
  });
  return { plan, user: plan.user };
}

async function prepareStateDir(path: string, user: string, uid: number, gid: number, log: Logger) {
  let info: DirInfo | null = null;
  try {
    const st = await Deno.stat(path);
    if (!st.isDirectory) throw new PrivilegeError(`state_dir ${path} is not a directory`, path);
    const entries: DirInfo["entries"] = [];
    for await (const e of Deno.readDir(path)) {
      const s = await Deno.lstat(join(path, e.name)).catch(() => null);
      entries.push({ name: e.name, uid: s?.uid ?? -1, file: s?.isFile ?? false });
    }
    info = { uid: st.uid ?? -1, gid: st.gid ?? -1, mode: st.mode ?? 0, entries };
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) {
      if (e instanceof PrivilegeError) throw e;
      throw new PrivilegeError(`cannot check state_dir ${path}: ${(e as Error).message}`, path);
    }
  }
  const action = stateDirAction(path, info, user, uid, gid);
  if (action.kind === "refuse") throw new PrivilegeError(action.message, path);
  if (action.kind === "take" && info !== null && (await Deno.lstat(path)).isSymlink) {
    throw new PrivilegeError(
      `state_dir ${path} is a symbolic link to a directory of root's; dmonitor hands over only a real directory: chown -R ${user}: the directory it points to`,
      path,
    );
  }
  if (action.kind === "take") {
    await Deno.mkdir(path, { recursive: true, mode: 0o750 });
    await Deno.chown(path, uid, gid);
    await Deno.chmod(path, 0o750);
    for (const f of action.files) await Deno.chown(join(path, f), uid, gid);
    log.info("state_dir made the unprivileged user's", { path, user, files: action.files.length });
  }
}

/** peer.key is re-read on every reload, by the unprivileged user: it must be able to read it. */
async function handKey(path: string, user: string, uid: number, log: Logger) {
  // Only a regular file in a directory nobody but root can write: in any other, someone could have
  // swapped peer.key for a link to a file of root's, which the chown would then give away.
  const st = await Deno.lstat(path).catch(() => null);
  const dir = await Deno.stat(dirname(path)).catch(() => null);
  if (!st?.isFile || st.uid === uid) return;
  if (!dir || dir.uid !== 0 || ((dir.mode ?? 0o022) & 0o022) !== 0) return;
  const mode = st.mode ?? 0;
  if ((mode & 0o004) !== 0) return; // refused elsewhere as world-readable
  if (st.uid === 0) {
    await Deno.chown(path, uid, null);
    log.warn("peer.key made the unprivileged user's (mode kept) so that reloads can read it", {
      path,
      user,
    });
  }
}
