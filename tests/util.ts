/**
 * End-to-end helpers: run `main.ts` as a real process, write config trees, start nodes that are
 * disposed (killed and reaped) when the test's `await using` scope ends.
 *
 * Test files run in parallel (`deno test --parallel`), and other checkouts may run theirs at the
 * same time: every e2e file owns one loopback block for everything it binds or names, so no two
 * files share an address or a fixed port (tests/addresses_test.ts keeps it so). Blocks:
 *
 * | block         | file                    | block         | file                     |
 * |---------------|-------------------------|---------------|--------------------------|
 * | 127.0.100.0/24 | alerts_cli_test.ts     | 127.0.108.0/24 | sync_e2e_test.ts        |
 * | 127.0.101.0/24 | bundle_test.ts         | 127.0.109.0/24 | sync_fault_test.ts      |
 * | 127.0.102.0/24 | cli_test.ts            | 127.0.110.0/24 | sync_interop_test.ts    |
 * | 127.0.103.0/24 | consensus_test.ts      | 127.0.111.0/24 | sync_run_test.ts        |
 * | 127.0.105.0/24 | status_metrics_test.ts | 127.0.112.0/24 | tentacle_daemon_test.ts |
 * | 127.0.106.0/24 | status_page_test.ts    | 127.0.114.0/24 | consensus_faults_test.ts |
 * | 127.0.107.0/24 | sync_cli_test.ts       | 127.0.104.0/24 | util_test.ts            |
 * | 127.0.115.0/24 | alertmanager_test.ts   | 127.0.130.0/24 | perfdata_test.ts        |
 * | 127.0.131.0/24 | routing_test.ts        | 127.0.120.0/24 | notices_test.ts         |
 * | 127.0.160.0/24 | agreement_test.ts      | 127.0.161.0/24 | heartbeat_test.ts       |
 * | 127.0.150.0/24 | silences_test.ts (silences) | 127.0.151.0/24 | silences_test.ts (acks) |
 * | 127.0.152.0/24 | silences_test.ts (CLI)  | 127.0.153.0/24 | silences_test.ts (clocks) |
 * | 127.0.170.0/24 | views_test.ts          | 127.0.171.0/24 | run_bind_test.ts        |
 * | 127.0.172.0/24 | views_peers_test.ts    | 127.0.192.0/24 | run_modules_test.ts      |
 * | 127.0.140.0/24 | sync_pg_test.ts        |                |                         |
 *
 * Unit tests listen on 127.0.0.1 port 0, except lib/tentacle/server_test.ts (127.0.120.0/24) and
 * lib/tentacle/tls_test.ts (127.0.121.0/24, outside every test certificate on purpose) and
 * lib/alerts/alertmanager_test.ts (127.0.116.0/24, a real Alertmanager), and the PostgreSQL
 * clusters of lib/sync/store_test.ts (127.0.141.0/24), lib/pg/pg_test.ts (127.0.142.0/24) and
 * bench/sync_pg_bench.ts (127.0.143.0/24).
 *
 * testdata/tls/e2e.crt (gen_e2e.sh) covers .1-.9 of 127.0.100-119 for the TLS tests. The
 * tentacle interop tests (run only with TENTACLE_REF_DIR) still use 127.0.0.1 with port 0.
 * @module
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { trustedTempDir } from "../lib/runner/testing.ts";

export const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
export const MAIN = join(ROOT, "main.ts");

export interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `dmonitor ARGS` to completion. */
export async function dmonitor(
  args: string[],
  opts: { env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<Ran> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", MAIN, ...args],
    env: { NO_COLOR: "1", ...opts.env },
    stdin: "null",
    signal: AbortSignal.timeout(opts.timeoutMs ?? 60_000),
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** Writes a config tree (path -> content) into a new temp dir; `plugins/` files become 0755. */
export async function writeTree(files: Record<string, string>, dir?: string): Promise<string> {
  // 0755: when tests run as root, plugins run as `nobody`, who must be able to reach them. Not
  // under /tmp, which the plugin trust rules refuse above a plugin (lib/runner/trust.ts).
  dir ??= await trustedTempDir("dmonitor-e2e-");
  await Deno.chmod(dir, 0o755);
  for (const [path, content] of Object.entries(files)) {
    const full = join(dir, path);
    await Deno.mkdir(dirname(full), { recursive: true });
    await Deno.writeTextFile(full, content);
    await Deno.chmod(
      full,
      path.startsWith("plugins/") ? 0o755 : path === "peer.key" ? 0o600 : 0o644,
    );
  }
  return dir;
}

/** The last `n` lines of a log, for error messages. */
export function tail(lines: readonly string[], n = 30): string {
  return lines.slice(-n).join("\n");
}

/**
 * A running `dmonitor run` process whose stderr is collected line by line. A wait for a line
 * rejects at once (with the stderr tail) when the process has exited, instead of running into its
 * timeout; `await using` kills and reaps it.
 */
export class NodeProcess {
  readonly lines: string[] = [];
  readonly #child: Deno.ChildProcess;
  readonly #reader: Promise<void>;
  readonly #waiters: { re: RegExp; resolve: (l: string) => void; reject: (e: Error) => void }[] =
    [];
  readonly status: Promise<Deno.CommandStatus>;
  /** Set once the process has exited and its stderr is read to the end. */
  #exited: Deno.CommandStatus | null = null;

  /** `nofile`: start the node under `ulimit -n nofile` (through sh); `denoFlags`: more flags for
   * `deno run` (benches: `--cpu-prof`); `stdoutFile`: the node's stdout is written there (benches:
   * V8's `--trace-gc`), else it is discarded. */
  constructor(
    args: string[],
    env: Record<string, string> = {},
    o: { nofile?: number; denoFlags?: string[]; stdoutFile?: string } = {},
  ) {
    const deno = ["run", "-A", "--quiet", ...(o.denoFlags ?? []), MAIN, "run", ...args];
    const child = new Deno.Command(o.nofile ? "sh" : Deno.execPath(), {
      args: o.nofile
        ? ["-c", `ulimit -n ${o.nofile} && exec "$0" "$@"`, Deno.execPath(), ...deno]
        : deno,
      env: { NO_COLOR: "1", DMONITOR_LOG_LEVEL: "debug", ...env },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#child = child;
    this.status = child.status;
    if (o.stdoutFile === undefined) child.stdout.cancel();
    else {
      const file = Deno.openSync(o.stdoutFile, { write: true, create: true, truncate: true });
      child.stdout.pipeTo(file.writable).catch(() => {});
    }
    this.#reader = (async () => {
      let buf = "";
      for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
        buf += chunk;
        let i;
        while ((i = buf.indexOf("\n")) >= 0) {
          this.#line(buf.slice(0, i));
          buf = buf.slice(i + 1);
        }
      }
      if (buf !== "") this.#line(buf);
    })().catch(() => {});
    // A plugin the node started may hold stderr open after the node died: do not wait for EOF
    // longer than a moment before failing the waiters.
    void this.status.then(async (st) => {
      await Promise.race([this.#reader, new Promise((r) => setTimeout(r, 500))]);
      this.#exited = st;
      for (const w of this.#waiters.splice(0)) w.reject(this.#exitError(w.re));
    });
  }

  #line(line: string): void {
    this.lines.push(line);
    for (const w of [...this.#waiters]) {
      if (w.re.test(line)) {
        this.#waiters.splice(this.#waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  }

  #exitError(re: RegExp): Error {
    const st = this.#exited!;
    const how = st.signal ? `signal ${st.signal}` : `code ${st.code}`;
    return new Error(
      `dmonitor run (pid ${this.pid}) exited (${how}) before logging ${re}; stderr tail:\n` +
        tail(this.lines),
    );
  }

  get pid(): number {
    return this.#child.pid;
  }

  /** The exit status once the process has exited (and its stderr was read), else null. */
  get exited(): Deno.CommandStatus | null {
    return this.#exited;
  }

  /**
   * Resolves with the first line (already seen from index `from` of `lines`, or future) matching
   * `re`; rejects after `ms`, or at once when the process exits first.
   */
  waitFor(re: RegExp, ms = 20_000, from = 0): Promise<string> {
    const seen = this.lines.slice(from).find((l) => re.test(l));
    if (seen) return Promise.resolve(seen);
    if (this.#exited) return Promise.reject(this.#exitError(re));
    return new Promise((resolve, reject) => {
      const w = {
        re,
        resolve: (l: string) => (clearTimeout(t), resolve(l)),
        reject: (e: Error) => (clearTimeout(t), reject(e)),
      };
      const t = setTimeout(() => {
        this.#waiters.splice(this.#waiters.indexOf(w), 1);
        reject(
          new Error(
            `dmonitor run (pid ${this.pid}): timed out after ${ms} ms waiting for ${re}; stderr tail:\n${
              tail(this.lines)
            }`,
          ),
        );
      }, ms);
      this.#waiters.push(w);
    });
  }

  kill(signal: Deno.Signal = "SIGTERM"): void {
    try {
      this.#child.kill(signal);
    } catch { /* already gone */ }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.kill("SIGKILL");
    await this.status;
    await this.#reader.catch(() => {});
  }
}

/**
 * Starts `dmonitor run ARGS` and waits until it logs `ready` (default: "node started"). When the
 * wait fails (timeout, or the node exited), the process is killed and reaped before the error is
 * thrown, so a failed start leaves nothing running.
 */
export async function startNode(
  args: string[],
  opts: { env?: Record<string, string>; ready?: RegExp; timeoutMs?: number } = {},
): Promise<NodeProcess> {
  const node = new NodeProcess(args, opts.env);
  try {
    await node.waitFor(opts.ready ?? /node started/, opts.timeoutMs);
    return node;
  } catch (e) {
    await node[Symbol.asyncDispose]();
    throw e;
  }
}

/**
 * Polls `ok` every 50 ms until it holds; throws naming `what` after `ms`. Pass `nodes` to stop at
 * once, with that node's stderr tail, when one of them has exited.
 */
export async function until(
  what: string,
  ok: () => boolean | Promise<boolean>,
  opts: { ms?: number; nodes?: readonly NodeProcess[] } = {},
): Promise<void> {
  const end = Date.now() + (opts.ms ?? 30_000);
  while (!(await ok())) {
    const dead = opts.nodes?.find((n) => n.exited);
    if (dead) {
      throw new Error(
        `waiting for ${what}: node pid ${dead.pid} exited; stderr tail:\n${tail(dead.lines)}`,
      );
    }
    if (Date.now() > end) {
      // The nodes' own words say why: each one's log tail goes with the timeout.
      const tails = (opts.nodes ?? []).map((n) => `node pid ${n.pid}:\n${tail(n.lines)}`);
      throw new Error([`timed out waiting for ${what}`, ...tails].join("\n"));
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}
