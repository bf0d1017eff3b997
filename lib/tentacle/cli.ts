/**
 * `dmonitor tentacle-server` and `dmonitor tentacle-client`: flag parsing (Getopt::Std rules),
 * wiring of real dependencies, and exit codes (0 on success, 1 on error, as the reference scripts;
 * bad flags throw UsageError for main.ts to print).
 * @module
 */

import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { ProtocolError, UsageError } from "../errors/mod.ts";
import { createLogger, type Level, type Logger } from "../log/mod.ts";
import { TentacleClient } from "./client.ts";
import { getopts } from "./getopt.ts";
import {
  CLIENT_SPEC,
  parseConfigFile,
  resolveClientSettings,
  resolveServerSettings,
  SERVER_SPEC,
  type ServerSettings,
} from "./options.ts";
import { checkName } from "./protocol.ts";
import { startTentacleServer, type TentacleServer } from "./server.ts";
import { dropPrivilegesTo } from "../privilege/mod.ts";

/** Set in the environment of the re-executed daemon so it does not daemonize again. */
export const FOREGROUND_ENV = "DMONITOR_TENTACLE_FOREGROUND";

export const SERVER_USAGE = `Usage: dmonitor tentacle-server -s <storage directory> [options]

Tentacle server (protocol of Pandora FMS tentacle_server v0.6.2).

Options:
\t-a ip_addresses\tIP addresses to listen on (default :: and 0.0.0.0).
\t               \t(Multiple addresses separated by comma can be defined.)
\t-c number\tMaximum number of simultaneous connections (default 10).
\t-d\t\tRun as daemon (re-executes itself detached; not needed under systemd).
\t-e cert\t\tOpenSSL certificate file. Enables SSL.
\t-f ca_cert\tVerify that the peer certificate is signed by a ca.
\t-F config_file\tConfiguration file full path.
\t-h\t\tShow help.
\t-I\t\tEnable insecure operations (file listing and moving).
\t-i\t\tFilters (regexp:dir;regexp:dir...).
\t-k key\t\tOpenSSL private key file.
\t-l log_file\tFile to write logs.
\t-m size\t\tMaximum file size in bytes (default 2000000b).
\t-o\t\tEnable file overwrite.
\t-p port\t\tPort to listen on (default 41121).
\t-q\t\tQuiet. Do not print error messages.
\t-r number\tNumber of retries for network operations (default 3).
\t-s directory\tStorage directory.
\t-t time\t\tTime-out for network operations in seconds (default 1s).
\t-v\t\tBe verbose (display errors).
\t-V\t\tBe verbose on hard way (display errors and other info).
\t-x pwd\t\tServer password.

Started as root, it switches to user dmonitor (or nobody when that user does not exist), with
no supplementary groups, before it listens or checks the storage directory, which that user must
be able to write; it never serves as root (Pandora's tentacle_server refuses to start as root).
Ports below 1024 therefore need net.ipv4.ip_unprivileged_port_start lowered.
`;

export const CLIENT_USAGE = `Usage: dmonitor tentacle-client [options] [file] [file] ...

Tentacle client (protocol of Pandora FMS tentacle_client v0.4.0).

Options:
\t-a address\tServer address (default 127.0.0.1).
\t-b localaddress\tLocal address to bind.
\t-c\t\tEnable SSL without a client certificate.
\t-e cert\t\tOpenSSL certificate file. Enables SSL.
\t-f ca\t\tVerify that the peer certificate is signed by a ca.
\t-g\t\tGet files from the server.
\t-h\t\tShow help.
\t-k key\t\tOpenSSL private key file.
\t-p port\t\tServer port (default 41121).
\t-q\t\tQuiet. Do not print error messages.
\t-r number\tNumber of retries for network operations (default 3).
\t-t time\t\tTime-out for network operations in seconds (default 1s).
\t-v\t\tBe verbose.
\t-x pwd\t\tServer password.
\t-z\t\tCompress data.
`;

/** Injected effects of the CLI functions; every one has a real default. */
export interface CliDeps {
  /** Usage text and the client's -v messages. */
  stdout?: (text: string) => void;
  /** Error lines and (without -l) server logs. */
  stderr?: (line: string) => void;
  /** Stops the server; default: SIGINT or SIGTERM. */
  signal?: AbortSignal;
  /** Called once the server listens. */
  onListening?: (server: TentacleServer) => void;
  env?: (name: string) => string | undefined;
  /** Starts a detached copy of this command (for -d); resolves to an exit code. */
  respawn?: () => Promise<number>;
  /** Directory -g writes into. Default: the current directory. */
  cwd?: string;
  /**
   * Started as root, switches to `dmonitor` (else `nobody`) before listening; never keeps root.
   * Default: the real switch (lib/privilege); in-process tests pass a no-op.
   */
  dropPrivileges?: (log: Logger) => Promise<unknown>;
}

const enc = new TextEncoder();
const defaultStdout = (t: string) => void Deno.stdout.writeSync(enc.encode(t));
const defaultStderr = (l: string) => void Deno.stderr.writeSync(enc.encode(l + "\n"));

function parse(spec: string, args: string[], cmd: string) {
  const r = getopts(spec, args);
  if (r.errors.length > 0) throw new UsageError(`${cmd}: ${r.errors[0]} (see ${cmd} -h)`);
  return r;
}

/** `dmonitor tentacle-server`: runs until SIGINT/SIGTERM (or `deps.signal`), returns the exit code. */
export async function tentacleServerMain(args: string[], deps: CliDeps = {}): Promise<number> {
  const stdout = deps.stdout ?? defaultStdout;
  const { opts, rest } = parse(SERVER_SPEC, args, "tentacle-server");
  if (opts.has("h") || opts.has("help")) {
    stdout(SERVER_USAGE);
    return 0;
  }
  if (rest.length > 0) throw new UsageError(`tentacle-server: unexpected argument '${rest[0]}'`);
  let conf: Record<string, string> = {};
  const confFile = opts.get("F");
  if (typeof confFile === "string") {
    try {
      conf = parseConfigFile(await Deno.readTextFile(confFile));
    } catch (e) {
      throw new UsageError(
        `tentacle-server: Configuration file ${confFile} is not readable: ${(e as Error).message}`,
      );
    }
  }
  const settings = resolveServerSettings(opts, conf);
  await checkServerPaths(settings);

  const env = deps.env ?? ((n: string) => Deno.env.get(n));
  if (settings.daemon && env(FOREGROUND_ENV) !== "1") {
    return await (deps.respawn ?? respawnDetached)();
  }

  const log = serverLogger(settings, deps.stderr ?? defaultStderr);
  try {
    await (deps.dropPrivileges ?? dropToUser)(log);
  } catch (e) {
    (deps.stderr ?? defaultStderr)(`[err] ${(e as Error).message}`);
    return 1;
  }
  // Checked again as the user the server now runs as: it writes there.
  await checkServerPaths(settings);
  for (const w of settings.warnings) log.warn(w);
  let server: TentacleServer;
  try {
    server = await startTentacleServer({ ...settings.server, logger: log });
  } catch (e) {
    // Not a usage mistake (port taken, unreadable key...): one line and exit 1, as the reference.
    (deps.stderr ?? defaultStderr)(`[err] ${(e as Error).message}`);
    return 1;
  }
  deps.onListening?.(server);
  await waitForStop(deps.signal);
  await server.close();
  return 0;
}

/** Pandora's tentacle_server refuses root outright; this one switches away from it instead. */
function dropToUser(log: Logger): Promise<unknown> {
  return dropPrivilegesTo({ allowRoot: false, logger: log });
}

async function checkServerPaths(s: ServerSettings): Promise<void> {
  const dir = s.server.directory;
  const st = await Deno.stat(dir).catch(() => null);
  if (!st?.isDirectory) throw new UsageError(`tentacle-server: Directory ${dir} does not exist.`);
  const probe = join(dir, `.dmonitor.tmp.writecheck.${Deno.pid}`);
  try {
    await Deno.writeFile(probe, new Uint8Array(0));
    await Deno.remove(probe);
  } catch {
    const who = Deno.uid() === 0 ? "" : ` as uid ${Deno.uid()}`;
    throw new UsageError(`tentacle-server: Cannot write to directory ${dir}${who}.`);
  }
  const t = s.server.tls;
  for (const f of [t?.certFile, t?.keyFile, t?.caFile]) {
    if (f !== undefined && !(await Deno.stat(f).catch(() => null))?.isFile) {
      throw new UsageError(`tentacle-server: File ${f} does not exist.`);
    }
  }
}

function serverLogger(s: ServerSettings, stderr: (line: string) => void): Logger {
  const min: Level = {
    quiet: "error",
    normal: "warn",
    verbose: "info",
    debug: "debug",
  }[s.verbosity] as Level;
  let write = stderr;
  if (s.verbosity === "quiet") write = () => {};
  else if (s.logFile !== undefined) {
    const file = s.logFile;
    // Opened per line, as the reference does, so log rotation needs no signal.
    write = (line) => Deno.writeTextFileSync(file, line + "\n", { append: true });
  }
  return createLogger({ min, component: "tentacle", write, time: s.logFile !== undefined });
}

function waitForStop(signal?: AbortSignal): Promise<void> {
  if (signal) {
    return signal.aborted
      ? Promise.resolve()
      : new Promise((r) => signal.addEventListener("abort", () => r(), { once: true }));
  }
  return new Promise((resolve) => {
    const stop = () => {
      Deno.removeSignalListener("SIGINT", stop);
      Deno.removeSignalListener("SIGTERM", stop);
      resolve();
    };
    Deno.addSignalListener("SIGINT", stop);
    Deno.addSignalListener("SIGTERM", stop);
  });
}

/**
 * This process's own arguments after the program, from /proc/self/cmdline: the copy runs with the
 * same runtime flags (`--v8-flags` of `make run` and of the Debian launcher, `--config`, ...) as
 * this one, which Deno.args does not carry. null without /proc.
 */
function ownCommandLine(): string[] | null {
  try {
    const all = Deno.readTextFileSync("/proc/self/cmdline").split("\0");
    if (all.at(-1) === "") all.pop();
    return all.length > 0 ? all.slice(1) : null;
  } catch {
    return null;
  }
}

/** Without /proc: under `deno run main.ts ...` re-run the script (runtime flags are lost); a
 * compiled binary is its own entry point (its V8 flags are built in). */
function fallbackArgs(exec: string): string[] {
  const viaDeno = /^deno(\.exe)?$/.test(basename(exec)) && Deno.mainModule.startsWith("file:");
  return viaDeno ? ["run", "-A", fileURLToPath(Deno.mainModule), ...Deno.args] : [...Deno.args];
}

/**
 * Daemonizes the way a Deno program can: re-executes this very command detached (new session,
 * stdio on /dev/null) with FOREGROUND_ENV set, and returns 0 once the copy is running; if the copy
 * dies at once (port taken), returns its exit code instead.
 */
async function respawnDetached(): Promise<number> {
  const exec = Deno.execPath();
  const args = ownCommandLine() ?? fallbackArgs(exec);
  const child = new Deno.Command(exec, {
    args,
    env: { [FOREGROUND_ENV]: "1" },
    stdin: "null",
    stdout: "null",
    stderr: "null",
    detached: true,
  }).spawn();
  const early = await Promise.race([
    child.status.then((s) => s.code),
    new Promise<null>((r) => setTimeout(() => r(null), 500)),
  ]);
  child.unref();
  return early ?? 0;
}

/** `dmonitor tentacle-client`: sends (or with -g receives) every file in one session, then QUIT. */
export async function tentacleClientMain(args: string[], deps: CliDeps = {}): Promise<number> {
  const stdout = deps.stdout ?? defaultStdout;
  const stderr = deps.stderr ?? defaultStderr;
  const { opts, rest } = parse(CLIENT_SPEC, args, "tentacle-client");
  if (opts.has("h") || opts.has("help")) {
    stdout(CLIENT_USAGE);
    return 0;
  }
  const s = resolveClientSettings(opts, rest);
  const say = (m: string) => s.verbose && stdout(`[log] ${m}\n`);
  const fail = (m: string) => {
    if (!s.quiet) stderr(`[err] ${m}`);
    return 1;
  };
  const cwd = deps.cwd ?? Deno.cwd();
  for (const f of s.files) {
    if (s.get) {
      if (checkName(f)) return fail(`Invalid file name '${f}'.`);
    } else if (!(await Deno.stat(f).catch(() => null))?.isFile) {
      return fail(`File '${f}' does not exist.`);
    }
  }
  let client: TentacleClient;
  try {
    client = await TentacleClient.connect(s.client);
  } catch (e) {
    return fail((e as Error).message);
  }
  say(`Connected to ${client.peer}`);
  try {
    for (const f of s.files) {
      if (s.get) {
        await client.recv(f, join(cwd, f), { compress: s.compress });
        say(`Received ${s.compress ? "compressed " : ""}file '${f}'`);
      } else {
        await client.send(basename(f), f, { compress: s.compress });
        say(`File '${f}' sent`);
      }
    }
  } catch (e) {
    // The reference says QUIT after a refusal; after a broken connection there is nobody to tell.
    if (e instanceof ProtocolError && e.reply !== undefined) await client.quit();
    else client.close();
    return fail((e as Error).message);
  }
  await client.quit();
  return 0;
}
