/**
 * End-to-end helpers: run `main.ts` as a real process, write config trees, start nodes that are
 * disposed (killed and reaped) when the test's `await using` scope ends.
 * @module
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { trustedTempDir } from "../lib/runner/test_util.ts";

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

/** A running `dmonitor run` process whose stderr is collected line by line. */
export class NodeProcess {
  readonly lines: string[] = [];
  readonly #child: Deno.ChildProcess;
  readonly #reader: Promise<void>;
  readonly #waiters: { re: RegExp; resolve: (l: string) => void }[] = [];
  readonly status: Promise<Deno.CommandStatus>;

  /** `nofile`: start the node under `ulimit -n nofile` (through sh). */
  constructor(args: string[], env: Record<string, string> = {}, o: { nofile?: number } = {}) {
    const deno = ["run", "-A", "--quiet", MAIN, "run", ...args];
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
    child.stdout.cancel();
    this.#reader = (async () => {
      let buf = "";
      for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
        buf += chunk;
        let i;
        while ((i = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 1);
          this.lines.push(line);
          for (const w of [...this.#waiters]) {
            if (w.re.test(line)) {
              this.#waiters.splice(this.#waiters.indexOf(w), 1);
              w.resolve(line);
            }
          }
        }
      }
    })();
  }

  get pid(): number {
    return this.#child.pid;
  }

  /** Resolves with the first line (already seen or future) matching `re`; rejects after `ms`. */
  waitFor(re: RegExp, ms = 20_000): Promise<string> {
    const seen = this.lines.find((l) => re.test(l));
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const t = setTimeout(
        () => reject(new Error(`timed out waiting for ${re}; log:\n${this.lines.join("\n")}`)),
        ms,
      );
      this.#waiters.push({ re, resolve: (l) => (clearTimeout(t), resolve(l)) });
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
