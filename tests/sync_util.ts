/**
 * Helpers for the sync end-to-end tests and the benchmark: a site's Tentacle server as its own
 * process (so it can be SIGKILLed) on a given 127.0.0.x with TLS and client certificates, and the
 * puller as its own process. IP literals only: nothing here may ask DNS.
 * @module
 */
import { giveToServerUser } from "../lib/privilege/testing.ts";
import { prng } from "../lib/quorum/fixtures_testing.ts";
import { join } from "node:path";
import { TentacleClient } from "../lib/tentacle/client.ts";
import { ROOT } from "./util.ts";

export const TLS = join(ROOT, "testdata/tls/");
const SERVER_MAIN = join(ROOT, "lib/tentacle/server_main.ts");
const MAIN = join(ROOT, "main.ts");
const REF_SERVER = join(ROOT, "tests/sync_site_server.ts");

/** Client TLS options the central and the site nodes use (test CA, test client certificate). */
export const CLIENT_TLS = {
  caFile: TLS + "ca.crt",
  certFile: TLS + "client.crt",
  keyFile: TLS + "client.key",
};

/** A free port on `host`. */
export function freePortOn(host: string): number {
  const l = Deno.listen({ hostname: host, port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/**
 * A site's Tentacle server process: `tentacle-server -I -o` with Pandora's sync filters (and mutual
 * TLS unless `tls: false`); with `extensions: false`, one that answers as the reference does.
 */
export class SiteServer {
  #child: Deno.ChildProcess | null = null;
  readonly log: string[] = [];

  constructor(
    readonly host: string,
    readonly port: number,
    readonly dir: string,
    readonly opts: { tls?: boolean; extensions?: boolean } = {},
  ) {}

  /** Starts the process and waits until it accepts a session. */
  async start(): Promise<void> {
    const tls = this.opts.tls ?? true;
    // Started as root, our server runs as dmonitor or nobody, who must own the storage directory.
    if (this.opts.extensions !== false) await giveToServerUser(this.dir);
    const args = this.opts.extensions === false
      ? [
        "run",
        "-A",
        "--quiet",
        REF_SERVER,
        this.dir,
        this.host,
        String(this.port),
        tls ? "tls" : "plain",
      ]
      : [
        "run",
        "-A",
        "--quiet",
        SERVER_MAIN,
        "-s",
        this.dir,
        "-a",
        this.host,
        "-p",
        String(this.port),
        "-I",
        "-o",
        "-i",
        ".*\\.conf:conf;.*\\.md5:md5",
        "-q",
        ...(tls ? ["-e", TLS + "e2e.crt", "-k", TLS + "e2e.key", "-f", TLS + "ca.crt"] : []),
      ];
    this.#child = new Deno.Command(Deno.execPath(), {
      args,
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const child = this.#child;
    let exited: Deno.CommandStatus | null = null;
    void child.status.then((st) => exited = st);
    (async () => {
      for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
        this.log.push(chunk);
      }
    })().catch(() => {});
    // Fails fast when the process exits, and never leaves it running when the wait fails.
    const deadline = Date.now() + 20_000;
    for (;;) {
      const c = await TentacleClient.connect({
        host: this.host,
        port: this.port,
        tls: tls ? CLIENT_TLS : false,
        idleTimeoutMs: 1000,
        probe: false,
      })
        .catch(() => null);
      if (c) {
        await c.quit();
        return;
      }
      const st = exited as Deno.CommandStatus | null;
      if (st || Date.now() > deadline) {
        await this.kill();
        const why = st ? `exited (code ${st.code}, signal ${st.signal})` : "did not start in 20 s";
        throw new Error(
          `site server ${this.host}:${this.port} ${why}; stderr tail:\n` +
            this.log.join("").split("\n").slice(-30).join("\n"),
        );
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  get pid(): number | null {
    return this.#child?.pid ?? null;
  }

  /** SIGKILL and reap. */
  async kill(): Promise<void> {
    const c = this.#child;
    if (!c) return;
    this.#child = null;
    try {
      c.kill("SIGKILL");
    } catch { /* gone */ }
    await c.status;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.kill();
  }
}

/**
 * The puller (`dmonitor sync`) as its own process; stderr collected. Waiting for a line stops at
 * once, with the stderr tail, when the current process has exited.
 */
export class PullerProcess {
  #child: Deno.ChildProcess | null = null;
  #exited: Deno.CommandStatus | null = null;
  #wake = () => {};
  readonly lines: string[] = [];

  constructor(readonly args: string[], readonly env: Record<string, string> = {}) {}

  /** Index in `lines` where the current process's output starts. */
  from = 0;

  start(): void {
    this.from = this.lines.length;
    this.#exited = null;
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--quiet", MAIN, "sync", ...this.args],
      env: { NO_COLOR: "1", DMONITOR_LOG_LEVEL: "info", ...this.env },
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    this.#child = child;
    const reader = (async () => {
      let buf = "";
      for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
        buf += chunk;
        let i;
        while ((i = buf.indexOf("\n")) >= 0) {
          this.lines.push(buf.slice(0, i));
          buf = buf.slice(i + 1);
        }
        this.#wake();
      }
    })().catch(() => {});
    void child.status.then(async (st) => {
      await Promise.race([reader, new Promise((r) => setTimeout(r, 500))]);
      if (this.#child === child) this.#exited = st;
      this.#wake();
    });
  }

  get running(): boolean {
    return this.#child !== null;
  }

  /** The current process's exit status once it exited by itself (not through kill()), else null. */
  get exited(): Deno.CommandStatus | null {
    return this.#exited;
  }

  /** The last lines of the log, for error messages. */
  tail(n = 20): string {
    return this.lines.slice(-n).join("\n");
  }

  /** Resolves with the first line of the current process matching `re`; rejects after `ms`, or
   * at once when the process exits. */
  async waitFor(re: RegExp, ms = 20_000): Promise<string> {
    const deadline = Date.now() + ms;
    for (;;) {
      const line = this.lines.slice(this.from).find((l) => re.test(l));
      if (line !== undefined) return line;
      const st = this.#exited;
      if (st) {
        throw new Error(
          `puller exited (code ${st.code}, signal ${st.signal}) before logging ${re}:\n${this.tail()}`,
        );
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${re}:\n${this.tail()}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, 100);
        this.#wake = () => (clearTimeout(t), r());
      });
    }
  }

  async kill(signal: Deno.Signal = "SIGKILL"): Promise<Deno.CommandStatus | null> {
    const c = this.#child;
    if (!c) return null;
    this.#child = null;
    try {
      c.kill(signal);
    } catch { /* gone */ }
    return await c.status;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.kill();
  }
}

/** A seeded PRNG (mulberry32, shared with the consensus simulation), so a failing fault run can be
 * replayed with its seed. */
export const rng = prng;

/**
 * Pandora's Perl `tentacle_server` from `TENTACLE_REF_DIR`, run as nobody when we are root, with
 * `args` after the script; resolves once it accepts connections on host:port.
 */
export async function startPerlTentacleServer(
  refDir: string,
  host: string,
  port: number,
  args: string[],
) {
  const asNobody = Deno.uid() === 0
    ? ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    : [];
  const child = new Deno.Command(asNobody[0] ?? "perl", {
    args: [
      ...asNobody.slice(1),
      ...(asNobody.length ? ["perl"] : []),
      `${refDir}/tentacle_server`,
      ...args,
    ],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      (await Deno.connect({ hostname: host, port })).close();
      break;
    } catch {
      if (Date.now() > deadline) {
        child.kill("SIGKILL");
        await child.status;
        throw new Error("reference server did not start");
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return child;
}
