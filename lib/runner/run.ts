/**
 * Runs one plugin in a sandbox: safety check, clean environment, no shell, its own session and
 * process group, capped output, a hard timeout that kills the whole group.
 * @module
 */
import {
  capBytes,
  MAX_LINE_BYTES,
  oneLine,
  type ParsedOutput,
  parsePluginOutput,
  sanitizeLine,
} from "./parse.ts";
import type { CheckResult } from "./result.ts";
import { describeSpawnError, type RunAs } from "./safety.ts";
import { trustProblemReplayed } from "./trust_replay.ts";
import { becomeSubreaper, beginSpawn, sweepOrphans, trackChild, untrackChild } from "./reaper.ts";
import { resolveUser } from "./user.ts";
import { killQuiet, posixSpawn, posixSpawnAvailable } from "./spawn.ts";
import { capture, type Captured } from "./capture.ts";
import { Deadlines } from "./deadline.ts";

/** The timeouts of every run in this process. */
const deadlines = new Deadlines();

/** The only PATH a plugin sees. */
export const PLUGIN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/** Bytes of stdout (and, separately, stderr) kept; the rest is read and discarded. */
export const OUTPUT_CAP = 64 * 1024;
/** Every user can enter it and nobody but root can write to it. */
const SAFE_CWD = "/";

export interface PluginSpec {
  host: string;
  test: string;
  /** Absolute path of the executable. */
  path: string;
  /** Arguments, already substituted; default `[host]`. */
  args?: string[];
  /** Test parameters, passed as `DMONITOR_<KEY>` (see {@link buildPluginEnv}). */
  params?: Record<string, string | number | boolean>;
  timeoutMs: number;
  /** How Nagios WARNING counts (default "pass"). */
  warning?: "pass" | "fail";
  /** How Nagios UNKNOWN counts (default "fail"). */
  unknown?: "pass" | "fail";
  /**
   * Who the plugin runs as when the node runs as root: undefined resolves `nobody`, null keeps
   * root (an explicit `plugin_user: root`). Ignored when the node is not root, which cannot
   * switch user.
   */
  user?: RunAs | null;
}

export interface RunDeps {
  /** Clock for `startedAt`/`durationMs` (default `Date.now`). */
  now?: () => number;
  /** The node's uid (default `Deno.uid()`); 0 means plugins switch to `spec.user`. */
  nodeUid?: number | null;
  /** Resolves the default `nobody` (default: from /etc/passwd). */
  resolveUser?: (name: string) => Promise<RunAs>;
  /** Aborting it (node shutdown) kills the plugin like a timeout; the result is ERROR. */
  signal?: AbortSignal;
  /** After SIGTERM, how long the plugin gets before SIGKILL (default 500 ms). */
  killGraceMs?: number;
  /** After the plugin exits, how long its children may keep the pipes open (default 200 ms). */
  pipeGraceMs?: number;
  /** Bytes of stdout kept (default {@link OUTPUT_CAP}). */
  outputCap?: number;
  /**
   * How the plugin is started (default {@link chooseSpawn}): "posix_spawn" (spawn.ts, through
   * FFI to libc), "setsid" (the `setsid` program, no user switch) or "detached" (Deno's forking
   * spawn). A path that cannot be used here falls back to the default.
   */
  spawn?: SpawnPath;
  /** The `setsid` of the "setsid" path (default: {@link findSetsid}). */
  setsid?: string;
}

/** The ways a plugin can be started in a new session. */
export type SpawnPath = "posix_spawn" | "setsid" | "detached";

/**
 * The cheapest spawn that keeps every guarantee: posix_spawn through FFI where libc allows it
 * (with or without the user switch), else `setsid PLUGIN` when no user switch is needed, else
 * Deno's `detached` spawn, which forks the runtime.
 */
export function chooseSpawn(runAs: RunAs | null, wanted?: SpawnPath): SpawnPath {
  if (wanted === "detached") return wanted;
  if (wanted !== "setsid" && posixSpawnAvailable(runAs !== null)) return "posix_spawn";
  if (runAs === null && findSetsid() !== null) return "setsid";
  return "detached";
}

let setsidPath: string | null | undefined;

/** The `setsid` executable (util-linux, or busybox's applet), looked up once; null when absent. */
export function findSetsid(): string | null {
  if (setsidPath !== undefined) return setsidPath;
  setsidPath = null;
  for (const p of ["/usr/bin/setsid", "/bin/setsid", "/usr/sbin/setsid", "/sbin/setsid"]) {
    try {
      const st = Deno.statSync(p);
      if (st.isFile && (st.mode! & 0o111) !== 0) {
        setsidPath = p;
        break;
      }
    } catch { /* not here */ }
  }
  return setsidPath;
}

/** Turns a parameter name into its variable: `expect-body` becomes `DMONITOR_EXPECT_BODY`. */
export function envName(key: string): string {
  return "DMONITOR_" + key.toUpperCase().replace(/[^A-Z0-9]/g, "_");
}

/** The complete environment of a plugin; HOST and TEST win over parameters of the same name. */
export function buildPluginEnv(spec: Pick<PluginSpec, "host" | "test" | "params">) {
  const env: Record<string, string> = { PATH: PLUGIN_PATH };
  for (const [key, value] of Object.entries(spec.params ?? {})) env[envName(key)] = String(value);
  env.DMONITOR_HOST = spec.host;
  env.DMONITOR_TEST = spec.test;
  return env;
}

/**
 * Runs the plugin and returns its result; never throws. Refusals and spawn failures are ERROR
 * (status FAIL), an expired `timeoutMs` is TIMEOUT. On every path the plugin's process group gets
 * a final SIGKILL, so background children do not outlive the run.
 *
 * @example
 * ```ts
 * const r = await runPlugin({ host: "db1", test: "disk", path: "/etc/dmonitor/plugins/check_disk",
 *   timeoutMs: 10_000 });
 * ```
 */
export async function runPlugin(spec: PluginSpec, deps: RunDeps = {}): Promise<CheckResult> {
  const now = deps.now ?? Date.now;
  const startedAt = now();
  const result = (p: Omit<ParsedOutput, "contract">, exitCode: number | null): CheckResult => ({
    host: spec.host,
    test: spec.test,
    status: p.status,
    state: p.state,
    output: p.output,
    perfdata: p.perfdata,
    ...(p.stderr ? { stderr: p.stderr } : {}),
    exitCode,
    startedAt,
    durationMs: now() - startedAt,
  });
  const refuse = (reason: string) =>
    result({
      status: "FAIL",
      state: "ERROR",
      output: capBytes(sanitizeLine(`Cannot run plugin ${spec.path}: ${reason}`), MAX_LINE_BYTES),
      perfdata: "",
    }, null);
  try {
    const nodeUid = deps.nodeUid === undefined ? Deno.uid() : deps.nodeUid;
    let runAs: RunAs | null = null;
    if (nodeUid === 0) {
      runAs = spec.user === undefined
        ? await (deps.resolveUser ?? resolveUser)("nobody")
        : spec.user;
    }
    // The rules `dmonitor config check` applies too (validate.ts), re-checked before every run
    // since files change. Exec'ing by path afterwards is safe: see trust.ts for why.
    // Synchronous: a handful of lstat calls on local metadata cost less than one trip each to
    // the blocking pool (a tenth of the CPU, measured at hundreds of runs a second). Replayed
    // (trust_replay.ts): the same calls made afresh, the walker's logic skipped when every reply
    // is what it was in the last walk that passed, which gives that walk's answer.
    const refusal = trustProblemReplayed(spec.path, { nodeUid, runAs });
    if (refusal) return refuse(refusal);
    if (deps.signal?.aborted) return refuse("run aborted (dmonitor is stopping)");
    return await execute(spec, deps, runAs, result, refuse);
  } catch (err) {
    return refuse(err instanceof Error ? err.message : String(err));
  }
}

/** A started plugin, whichever way it was spawned. */
interface Running {
  pid: number;
  status: Promise<Deno.CommandStatus>;
  /** Stdout and stderr, capped, once both pipes closed or reading was cancelled. */
  output: Promise<[Captured, Captured]>;
  cancel(): void;
}

type MakeResult = (p: Omit<ParsedOutput, "contract">, exitCode: number | null) => CheckResult;

async function execute(
  spec: PluginSpec,
  deps: RunDeps,
  runAs: RunAs | null,
  result: MakeResult,
  refuse: (reason: string) => CheckResult,
): Promise<CheckResult> {
  // Before the first spawn: from then on, what a plugin orphans is re-parented to us (reaper.ts).
  becomeSubreaper();
  const path = chooseSpawn(runAs, deps.spawn);
  const setsid = path === "setsid" ? (deps.setsid ?? findSetsid()!) : null;
  const cap = deps.outputCap ?? OUTPUT_CAP;
  let child: Running;
  // Until the child is tracked, a sweep must not run: it would take the new plugin for a stray.
  const spawned = beginSpawn();
  try {
    // The plugin must lead a new session, so that it and everything it forks share process group
    // `pid` and die together. Deno's own `detached` (and `uid`/`gid`) fork the whole runtime to get
    // there, which costs milliseconds per run and blocks the event loop; posix_spawn with
    // POSIX_SPAWN_SETSID (spawn.ts) does it with clone(CLONE_VFORK) and no extra exec. Where that
    // is unavailable, `setsid PLUGIN` (no user switch; it execs in place, same pid) or Deno's path.
    const args = spec.args ?? [spec.host];
    if (path === "posix_spawn") {
      child = await posixSpawn(
        { path: spec.path, args, env: buildPluginEnv(spec), runAs },
        cap,
        OUTPUT_CAP,
      );
    } else {
      const c = new Deno.Command(setsid ?? spec.path, {
        args: setsid ? [spec.path, ...args] : args,
        cwd: SAFE_CWD,
        clearEnv: true,
        env: buildPluginEnv(spec),
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
        ...(setsid ? {} : { detached: true }),
        ...(runAs ? { uid: runAs.uid, gid: runAs.gid } : {}),
      }).spawn();
      const out = capture(c.stdout, cap);
      const err = capture(c.stderr, OUTPUT_CAP);
      child = {
        pid: c.pid,
        status: c.status,
        output: Promise.all([out.done, err.done]),
        cancel: () => void Promise.all([out.cancel(), err.cancel()]),
      };
    }
  } catch (err) {
    spawned();
    return refuse(await describeSpawnError(spec.path, err, runAs));
  }
  const pid = child.pid;
  trackChild(pid);
  spawned();
  const reaped = child.status.finally(() => untrackChild(pid));
  let pipesDone = false;
  const pipes = child.output.finally(() => pipesDone = true);

  // A deadline we cancel, rather than AbortSignal.timeout, so thousands of fast runs leave no
  // pending timers behind; and no AbortController per run, which costs more than the timer. The
  // runs share one timer per timeout length (deadline.ts).
  let expire!: (v: undefined) => void;
  const expired = new Promise<undefined>((resolve) => expire = resolve);
  const cancel = deadlines.after(spec.timeoutMs, () => expire(undefined));
  const onAbort = () => expire(undefined);
  if (deps.signal?.aborted) onAbort();
  deps.signal?.addEventListener("abort", onAbort, { once: true });
  let status: Deno.CommandStatus | undefined;
  try {
    status = await Promise.race([reaped, expired]);
  } finally {
    cancel();
    deps.signal?.removeEventListener("abort", onAbort);
  }
  if (status === undefined) {
    killGroup(pid, "SIGTERM");
    await within(reaped, deps.killGraceMs ?? 500);
    killGroup(pid, "SIGKILL");
    await reaped;
    await killGroupAndWait(pid);
  } else {
    // Children that inherited stdout may keep it open forever; they get a short grace.
    if (!pipesDone) await within(pipes, deps.pipeGraceMs ?? 200);
    await killGroupAndWait(pid);
  }
  // What left the group (setsid) and was orphaned is now our child: end it too.
  await sweepOrphans();
  // With the group and the strays dead the pipes close at once, unless an escaped process is
  // still attached to a live parent outside the run (then the reads are cancelled).
  if (!pipesDone && !(await within(pipes, 100))) child.cancel();
  const [stdout, stderr] = await pipes;

  if (status === undefined) {
    const aborted = deps.signal?.aborted === true;
    const why = aborted
      ? "run aborted (dmonitor is stopping)"
      : `timed out after ${spec.timeoutMs} ms`;
    const partial = oneLine(stdout.bytes);
    return result({
      status: aborted ? "FAIL" : "TIMEOUT",
      state: aborted ? "ERROR" : "TIMEOUT",
      output: capBytes(partial ? `${why}; output so far: ${partial}` : why, MAX_LINE_BYTES),
      perfdata: "",
    }, null);
  }
  const exitCode = status.signal === null ? status.code : null;
  if (setsid !== null && (exitCode === 126 || exitCode === 127) && stdout.bytes.length === 0) {
    // setsid could not exec the plugin (missing interpreter, not executable): the same refusal
    // Deno's spawn error gives on the other path, not a Nagios UNKNOWN.
    const text = new TextDecoder().decode(stderr.bytes);
    if (/^setsid: failed to execute/m.test(text) || /^setsid: can't execute/m.test(text)) {
      const err = exitCode === 127
        ? new Deno.errors.NotFound(text.trim())
        : new Deno.errors.PermissionDenied(text.trim());
      return refuse(await describeSpawnError(spec.path, err, runAs));
    }
  }
  const parsed = parsePluginOutput(stdout.bytes, exitCode, {
    warning: spec.warning,
    unknown: spec.unknown,
    stderr: stderr.bytes,
    signal: status.signal,
  });
  return result(parsed, exitCode);
}

/**
 * Sends `signal` to process group `pid`; false when that failed, normally because the group is
 * gone (ESRCH). EPERM (a setuid plugin while the node is not root) also gives false: nothing more
 * can be done, and throwing here would skip awaiting the child.
 */
function killGroup(pid: number, signal: Deno.Signal): boolean {
  // Through libc when loaded: a failed Deno.kill throws, and building that error costs more
  // than the whole kill in the common case (the group is already gone).
  const quiet = killQuiet(-pid, signal === "SIGKILL" ? 9 : 15);
  if (quiet !== null) return quiet;
  try {
    Deno.kill(-pid, signal);
    return true;
  } catch {
    return false;
  }
}

/**
 * SIGKILLs the group and waits (up to 200 ms) until the kernel has removed its members, so that
 * nothing of the plugin is left when the result is returned. The usual empty group costs one
 * failed kill(2). The group id cannot be reused while any member, even a zombie, still exists;
 * once the group is empty, reuse would need the pid counter to wrap within the ~200 ms pipe grace.
 */
async function killGroupAndWait(pid: number): Promise<void> {
  const until = performance.now() + 200;
  while (killGroup(pid, "SIGKILL") && performance.now() < until) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Resolves true when `p` settles within `ms`, false otherwise. */
function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<boolean>((resolve) => timer = setTimeout(() => resolve(false), ms));
  return Promise.race([p.then(() => true, () => true), late]).finally(() => clearTimeout(timer));
}
