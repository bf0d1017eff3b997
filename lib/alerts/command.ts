/**
 * The command channel: runs `alert.d/<name>.command` (the file itself, or what it links to) with
 * the `dmonitor.notification/1` document on stdin, under the same rules as check plugins: no
 * shell, a clean environment, cwd `/`, its own process group killed whole on timeout, output
 * capped, refused unless the plugin trust rules pass (lib/runner/trust.ts), and run as
 * `plugin_user` when dmonitor is root. Exit 0 means delivered; anything else is retried by the
 * outbox. The result is the command's own exit status: what it leaves behind (even outside its
 * process group) is ended, not waited for. Self-contained otherwise (the plugin runner is a
 * separate part with different result semantics).
 * @module
 */
import { lookupPasswd, resolveUser } from "../runner/user.ts";
import { trustProblem } from "../runner/trust.ts";
import { becomeSubreaper, sweepOrphans, trackChild, untrackChild } from "../runner/reaper.ts";
import { renderSubject } from "./render.ts";
import { renderWebhookPayload } from "./payload.ts";
import type { CommandTarget } from "./settings.ts";
import { type Channel, DeliveryError, type Message } from "./types.ts";

export const COMMAND_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

export interface RunAs {
  uid: number;
  gid: number;
}

export interface CommandRun {
  pid: number;
  /** Exit code, or null when killed by a signal. */
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  /** True when output beyond the cap was discarded. */
  truncated: boolean;
}

export interface RunOptions {
  env: Record<string, string>;
  timeoutMs: number;
  /** Bytes kept of stdout and of stderr each; the rest is read and discarded. */
  maxOutput: number;
  runAs: RunAs | null;
  signal?: AbortSignal;
}

/**
 * Why an executable must not be run, or null when it is fine: the plugin trust rules, the same
 * check and message `dmonitor config check` gives (lib/runner/validate.ts).
 */
export function checkExecutable(
  path: string,
  ownUid: number | null = Deno.uid(),
  runAs: RunAs | null = null,
): Promise<string | null> {
  return trustProblem(path, { nodeUid: ownUid, runAs });
}

/** Finds a user in /etc/passwd contents (the plugin runner's parser). */
export const passwdEntry = lookupPasswd;

/** Who commands run as: `plugin_user` when we are root, else ourselves (null). */
export async function resolveRunAs(
  user: string,
  passwdFile = "/etc/passwd",
): Promise<RunAs | null> {
  if (Deno.uid() !== 0) return null;
  return await resolveUser(user, passwdFile);
}

/** Reads a stream to its end, keeping the first `max` bytes so the writer never blocks. */
function drain(stream: ReadableStream<Uint8Array>, max: number) {
  const reader = stream.getReader();
  const kept: Uint8Array[] = [];
  let size = 0;
  let truncated = false;
  const done = (async () => {
    try {
      for (;;) {
        const { value: chunk, done } = await reader.read();
        if (done) break;
        const room = max - size;
        if (room > 0) {
          kept.push(room >= chunk.length ? chunk : chunk.subarray(0, room));
          size += Math.min(room, chunk.length);
        }
        if (chunk.length > room) truncated = true;
      }
    } catch {
      // Cancelled: keep what was read.
    }
  })();
  const result = () => {
    const all = new Uint8Array(size);
    kept.reduce((at, c) => (all.set(c, at), at + c.length), 0);
    return { text: new TextDecoder().decode(all), truncated };
  };
  return { done, result, cancel: () => reader.cancel().catch(() => {}) };
}

/** After the command exits, how long what it started may keep its pipes open. */
export const PIPE_GRACE_MS = 200;

/** Resolves true when `p` settles within `ms`, false otherwise. */
function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<boolean>((resolve) => timer = setTimeout(() => resolve(false), ms));
  return Promise.race([p.then(() => true, () => true), late]).finally(() => clearTimeout(timer));
}

/** Runs one executable with `input` on stdin, sandboxed; never throws for what the child does. */
export async function runAlertCommand(
  path: string,
  input: string,
  o: RunOptions,
): Promise<CommandRun> {
  // Before the spawn: what the command orphans is then re-parented to us (lib/runner/reaper.ts).
  becomeSubreaper();
  const child = new Deno.Command(path, {
    args: [],
    cwd: "/",
    clearEnv: true,
    env: { PATH: COMMAND_PATH, LANG: "C.UTF-8", ...o.env },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    // Its own process group, so a timeout kills everything it started.
    detached: true,
    // Resolved while the node was still root, it no longer applies once the node has dropped
    // root (lib/privilege): the command then runs as the node's own user, as plugins do.
    ...(o.runAs && Deno.uid() === 0 ? { uid: o.runAs.uid, gid: o.runAs.gid } : {}),
  }).spawn();
  trackChild(child.pid);
  const exited = child.status.finally(() => untrackChild(child.pid));
  const killGroup = () => {
    try {
      Deno.kill(-child.pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  };
  let timedOut = false;
  const timer = setTimeout(() => (timedOut = true, killGroup()), o.timeoutMs);
  const onAbort = () => killGroup();
  o.signal?.addEventListener("abort", onAbort, { once: true });
  const out = drain(child.stdout, o.maxOutput);
  const err = drain(child.stderr, o.maxOutput);
  const pipes = Promise.all([out.done, err.done]);
  const writer = child.stdin.getWriter();
  // A command that exits without reading its stdin must not fail the delivery; one that leaves
  // a child holding stdin open must not hold the write either.
  const written = (async () => {
    await writer.write(new TextEncoder().encode(input)).catch(() => {});
    await writer.close().catch(() => {});
  })();
  try {
    const status = await exited;
    clearTimeout(timer);
    // The result is the command's own status. Children left holding its pipes get a short grace,
    // then the group and anything that left it are ended and the reads are cut.
    await within(pipes, PIPE_GRACE_MS);
    killGroup();
    await sweepOrphans();
    if (!(await within(pipes, 100))) await Promise.all([out.cancel(), err.cancel()]);
    await pipes;
    if (!(await within(written, 100))) await writer.abort().catch(() => {});
    const stdout = out.result();
    const stderr = err.result();
    return {
      pid: child.pid,
      code: status.signal ? null : status.code,
      signal: status.signal,
      stdout: stdout.text,
      stderr: stderr.text,
      timedOut,
      truncated: stdout.truncated || stderr.truncated,
    };
  } finally {
    clearTimeout(timer);
    o.signal?.removeEventListener("abort", onAbort);
  }
}

function firstLine(s: string): string {
  return (s.split("\n").find((l) => l.trim()) ?? "").trim().slice(0, 300);
}

export interface CommandChannelOptions {
  commands: readonly CommandTarget[];
  /** From {@link resolveRunAs}: null runs commands as dmonitor's own user. */
  runAs: RunAs | null;
  /** Default 30 s. */
  timeoutMs?: number;
  /** Default 64 KiB. */
  maxOutput?: number;
}

/** Creates the command channel over the configured `alert.d/<name>.command` targets. */
export function createCommandChannel(o: CommandChannelOptions): Channel {
  const timeoutMs = o.timeoutMs ?? 30_000;
  return {
    async send(msg: Message, signal: AbortSignal) {
      const cmd = o.commands.find((c) => c.name === msg.target.name);
      if (!cmd) {
        throw new DeliveryError(`command '${msg.target.name}' is no longer configured`, true);
      }
      const unsafe = await checkExecutable(cmd.path, Deno.uid(), o.runAs);
      if (unsafe) throw new DeliveryError(`Cannot run ${cmd.file}: ${unsafe}`, false);
      const n = msg.notification;
      let run: CommandRun;
      try {
        run = await runAlertCommand(cmd.path, JSON.stringify(renderWebhookPayload(n)) + "\n", {
          env: {
            DMONITOR_KIND: n.kind,
            DMONITOR_HOST: n.host,
            DMONITOR_TEST: n.test,
            DMONITOR_INCIDENT: n.incidentId,
            DMONITOR_NOTIFICATION: n.id,
            DMONITOR_SUBJECT: renderSubject(n),
          },
          timeoutMs,
          maxOutput: o.maxOutput ?? 64 * 1024,
          runAs: o.runAs,
          signal,
        });
      } catch (e) {
        throw new DeliveryError(`Cannot run ${cmd.file}: ${(e as Error).message}`, false, {
          cause: e,
        });
      }
      if (run.timedOut) {
        throw new DeliveryError(
          `${cmd.file} timed out after ${timeoutMs / 1000}s and was killed`,
          false,
        );
      }
      if (run.code !== 0) {
        const why = run.code === null ? `was killed by ${run.signal}` : `exited with ${run.code}`;
        const said = firstLine(run.stderr) || firstLine(run.stdout);
        throw new DeliveryError(`${cmd.file} ${why}${said ? `: ${said}` : ""}`, false);
      }
      return { detail: `exit 0${firstLine(run.stdout) ? `: ${firstLine(run.stdout)}` : ""}` };
    },
  };
}
