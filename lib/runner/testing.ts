/**
 * Helpers for the runner's tests: a private copy of testdata/plugins with safe permissions, and
 * checks that processes are really gone.
 * @module
 */
import { trustProblemSync } from "./trust.ts";
import { procStat } from "../runtime/proc.ts";

const SOURCE = decodeURIComponent(new URL("../../testdata/plugins", import.meta.url).pathname);
const REPO = decodeURIComponent(new URL("../..", import.meta.url).pathname).replace(/\/$/, "");

let trustedBase: string | undefined;

/**
 * A parent for temp dirs that hold executables: /tmp (world-writable, sticky) fails the runner's
 * trust rules, as it does OpenSSH's. Tries $DMONITOR_TEST_TMPDIR, /run (root only) and the
 * checkout's `.tmp/`, keeping the first whose whole chain a plugin running as `nobody` may use.
 */
export function trustedTmpBase(): string {
  if (trustedBase) return trustedBase;
  const uid = Deno.uid();
  const nobody = { uid: 65534, gid: 65534 };
  const candidates = [
    Deno.env.get("DMONITOR_TEST_TMPDIR"),
    uid === 0 ? "/run/dmonitor-test" : undefined,
    `${REPO}/.tmp`,
  ].filter((c): c is string => !!c);
  const tried: string[] = [];
  for (const dir of candidates) {
    try {
      Deno.mkdirSync(dir, { recursive: true, mode: 0o755 });
      Deno.chmodSync(dir, 0o755);
      // Probe with a file: the walker wants one at the end of the chain.
      const probe = `${dir}/.probe-${Deno.pid}`;
      Deno.writeTextFileSync(probe, "");
      Deno.chmodSync(probe, 0o755);
      const why = trustProblemSync(probe, { nodeUid: uid, runAs: uid === 0 ? nobody : null });
      Deno.removeSync(probe);
      if (why === null) return trustedBase = dir;
      tried.push(why);
    } catch (e) {
      tried.push(`${dir}: ${(e as Error).message}`);
    }
  }
  throw new Error(`no trusted directory for test plugins: ${tried.join("; ")}`);
}

/** `Deno.makeTempDir` under {@link trustedTmpBase}, mode 0755. */
export async function trustedTempDir(prefix: string): Promise<string> {
  const dir = await Deno.makeTempDir({ dir: trustedTmpBase(), prefix });
  await Deno.chmod(dir, 0o755);
  return dir;
}

/** A temp copy of the test plugins, usable whatever the checkout's umask and owner were. */
export interface PluginFixture extends AsyncDisposable {
  /** Directory holding the plugin copies (0755, owned by us). */
  dir: string;
  /** A world-writable scratch directory for pid files (plugins may run as `nobody`). */
  scratch: string;
  /** Absolute path of the copy of `testdata/plugins/<name>`. */
  path(name: string): string;
  /** A fresh pid file path in `scratch`. */
  pidFile(): string;
  /** Writes an extra plugin into `dir` with the given mode. */
  write(name: string, text: string, mode?: number): Promise<string>;
}

/**
 * Copies every plugin into a new temp dir and sets 0755: git keeps only the executable bit, so a
 * fresh clone under umask 002 would otherwise hand us group-writable files the runner refuses.
 */
export async function pluginFixture(): Promise<PluginFixture> {
  const dir = await trustedTempDir("dmonitor-plugins-");
  const scratch = `${dir}/scratch`;
  await Deno.mkdir(scratch);
  await Deno.chmod(scratch, 0o1777);
  for await (const entry of Deno.readDir(SOURCE)) {
    if (!entry.isFile || !entry.name.startsWith("check_")) continue;
    const to = `${dir}/${entry.name}`;
    await Deno.copyFile(`${SOURCE}/${entry.name}`, to);
    await Deno.chmod(to, 0o755);
  }
  let n = 0;
  return {
    dir,
    scratch,
    path: (name) => `${dir}/${name}`,
    pidFile: () => `${scratch}/pids-${++n}`,
    async write(name, text, mode = 0o755) {
      const to = `${dir}/${name}`;
      await Deno.writeTextFile(to, text);
      await Deno.chmod(to, mode);
      return to;
    },
    async [Symbol.asyncDispose]() {
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** Pids listed one per line in `file` (written by the hostile plugins). */
export async function readPids(file: string): Promise<number[]> {
  const text = await Deno.readTextFile(file);
  return text.split("\n").filter((l) => /^\d+$/.test(l)).map(Number);
}

/** True while `pid` runs; a zombie waiting for an init that may never reap it counts as gone. */
export function isAlive(pid: number): boolean {
  const state = procStat(pid)?.state;
  return state !== undefined && state !== "Z" && state !== "X";
}

/** Live processes whose session id is `sid`: everything a detached plugin started and kept. */
export function sessionMembers(sid: number): number[] {
  const found: number[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    const p = procStat(Number(entry.name));
    if (p && p.sid === sid && p.state !== "Z") found.push(p.pid);
  }
  return found;
}
