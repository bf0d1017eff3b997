/**
 * Helpers for the sync end-to-end tests and the benchmark: a site's Tentacle server as its own
 * process (so it can be SIGKILLed) on a given 127.0.0.x with TLS and client certificates, and the
 * puller as its own process. IP literals only: nothing here may ask DNS.
 * @module
 */
import { prng } from "../lib/quorum/fixtures_testing.ts";
import { join } from "node:path";
import { TentacleClient } from "../lib/tentacle/client.ts";
import { ROOT } from "./util.ts";

export const TLS = join(ROOT, "testdata/tls/");
const SERVER_MAIN = join(ROOT, "lib/tentacle/server_main.ts");
const SYNC_MAIN = join(ROOT, "lib/sync/sync_main.ts");
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
        ...(tls ? ["-e", TLS + "server.crt", "-k", TLS + "server.key", "-f", TLS + "ca.crt"] : []),
      ];
    this.#child = new Deno.Command(Deno.execPath(), {
      args,
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const child = this.#child;
    (async () => {
      for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
        this.log.push(chunk);
      }
    })().catch(() => {});
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
      if (Date.now() > deadline) {
        throw new Error(
          `site server ${this.host}:${this.port} did not start: ${this.log.join("")}`,
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

/** The puller (`dmonitor sync`) as its own process; stderr collected. */
export class PullerProcess {
  #child: Deno.ChildProcess | null = null;
  readonly lines: string[] = [];

  constructor(readonly args: string[], readonly env: Record<string, string> = {}) {}

  /** Index in `lines` where the current process's output starts. */
  from = 0;

  start(): void {
    this.from = this.lines.length;
    this.#child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--quiet", SYNC_MAIN, ...this.args],
      env: { NO_COLOR: "1", DMONITOR_LOG_LEVEL: "info", ...this.env },
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const child = this.#child;
    (async () => {
      let buf = "";
      for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
        buf += chunk;
        let i;
        while ((i = buf.indexOf("\n")) >= 0) {
          this.lines.push(buf.slice(0, i));
          buf = buf.slice(i + 1);
        }
      }
    })().catch(() => {});
  }

  get running(): boolean {
    return this.#child !== null;
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
