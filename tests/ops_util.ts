/**
 * Helpers for the operating tests (status page, metrics, bundle, install): the bundled program
 * outside the repository, a stand-in for the compiled binary, headless Chromium, file snapshots.
 * @module
 */
import { join } from "node:path";
import { ROOT } from "./util.ts";

/** The Deno permissions the release binary gets (packaging/permissions.txt). */
export async function releasePermissions(): Promise<string[]> {
  const text = await Deno.readTextFile(join(ROOT, "packaging/permissions.txt"));
  return text.split("\n").map((l) => l.trim()).filter((l) => l !== "" && !l.startsWith("#"));
}

export interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion with a deadline. */
export async function run(
  cmd: string,
  args: string[],
  opts: {
    cwd?: string;
    env?: Record<string, string>;
    clearEnv?: boolean;
    stdin?: string;
    timeoutMs?: number;
  } = {},
): Promise<Ran> {
  const child = new Deno.Command(cmd, {
    args,
    cwd: opts.cwd,
    env: opts.env,
    clearEnv: opts.clearEnv,
    stdin: opts.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(opts.timeoutMs ?? 60_000),
  }).spawn();
  if (opts.stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(opts.stdin));
    await w.close();
  }
  const out = await child.output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

let bundled: Promise<string> | null = null;

/**
 * Bundles main.ts (as `make bundle` does) into a fresh directory outside the repository and returns
 * the bundle's path. Done once per test process.
 */
export function bundle(): Promise<string> {
  bundled ??= (async () => {
    const dir = await Deno.makeTempDir({ prefix: "dmonitor-bundle-" });
    const out = join(dir, "dmonitor.js");
    const r = await run(Deno.execPath(), [
      "bundle",
      "--quiet",
      "--platform",
      "deno",
      "--output",
      out,
      "main.ts",
    ], {
      cwd: ROOT,
      timeoutMs: 120_000,
    });
    if (r.code !== 0) throw new Error(`deno bundle failed:\n${r.stderr}`);
    return out;
  })();
  return bundled;
}

/**
 * Writes `dir/dmonitor`: a stand-in for the compiled binary (deno compile cannot fetch its runtime
 * here) that runs the bundle with the release permissions and no config or lock file.
 */
export async function standIn(dir: string): Promise<string> {
  const js = join(dir, "dmonitor.js");
  await Deno.copyFile(await bundle(), js);
  const perms = (await releasePermissions()).join(" ");
  const path = join(dir, "dmonitor");
  await Deno.writeTextFile(
    path,
    `#!/bin/sh\n# Stand-in for the compiled dmonitor binary.\nexec ${Deno.execPath()} run --quiet --no-config --no-lock ${perms} ${js} "$@"\n`,
  );
  await Deno.chmod(path, 0o755);
  return path;
}

export const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--hide-scrollbars",
];

/** Loads `url` in headless Chromium with a fresh profile; returns the DOM, or writes a screenshot. */
export async function chromium(
  url: string,
  opts: { screenshot?: string; width?: number; height?: number } = {},
): Promise<string> {
  const profile = await Deno.makeTempDir({ prefix: "dmonitor-chromium-" });
  try {
    const args = [
      ...CHROMIUM_FLAGS,
      `--user-data-dir=${profile}`,
      `--window-size=${opts.width ?? 1280},${opts.height ?? 900}`,
      opts.screenshot ? `--screenshot=${opts.screenshot}` : "--dump-dom",
      url,
    ];
    const r = await run(CHROMIUM, args, { timeoutMs: 60_000 });
    if (r.code !== 0) throw new Error(`chromium failed (${r.code}):\n${r.stderr}`);
    return r.stdout;
  } finally {
    await Deno.remove(profile, { recursive: true });
  }
}

/**
 * Headless Chromium driven over the DevTools protocol, for what the command-line modes cannot do:
 * loading a page with JavaScript disabled, then reading the rendered text and a screenshot.
 */
export class Browser {
  readonly #child: Deno.ChildProcess;
  readonly #profile: string;
  #ws!: WebSocket;
  #id = 0;
  readonly #pending = new Map<
    number,
    (msg: { result?: unknown; error?: { message: string } }) => void
  >();
  readonly #events: { method: string; resolve: () => void }[] = [];

  private constructor(child: Deno.ChildProcess, profile: string) {
    this.#child = child;
    this.#profile = profile;
  }

  /** Starts Chromium with a viewport of `width` x `height` and attaches to its page. */
  static async open(width: number, height: number): Promise<Browser> {
    const profile = await Deno.makeTempDir({ prefix: "dmonitor-chromium-" });
    const child = new Deno.Command(CHROMIUM, {
      args: [
        ...CHROMIUM_FLAGS,
        `--user-data-dir=${profile}`,
        "--remote-debugging-port=0",
        `--window-size=${width},${height}`,
        "about:blank",
      ],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const b = new Browser(child, profile);
    let log = "";
    const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
    const deadline = Date.now() + 30_000;
    let port: string | undefined;
    while (!port && Date.now() < deadline) {
      const { value, done } = await reader.read();
      if (done) break;
      log += value;
      port = /DevTools listening on ws:\/\/127\.0\.0\.1:(\d+)\//.exec(log)?.[1];
    }
    (async () => {
      while (!(await reader.read()).done) { /* drain */ }
    })().catch(() => {});
    if (!port) {
      await b[Symbol.asyncDispose]();
      throw new Error(`chromium did not start:\n${log}`);
    }
    try {
      await b.#attach(port, width, height);
    } catch (e) {
      // Never leave a browser running when attaching to it fails.
      await b[Symbol.asyncDispose]();
      throw e;
    }
    return b;
  }

  async #attach(port: string, width: number, height: number): Promise<void> {
    const targets = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json() as {
      type: string;
      webSocketDebuggerUrl: string;
    }[];
    const page = targets.find((t) => t.type === "page");
    if (!page) throw new Error("chromium has no page target");
    this.#ws = new WebSocket(page.webSocketDebuggerUrl);
    await new Promise((resolve, reject) => {
      this.#ws.onopen = resolve;
      this.#ws.onerror = reject;
    });
    this.#ws.onmessage = (e) => {
      const msg = JSON.parse(e.data);
      if (msg.id !== undefined) this.#pending.get(msg.id)?.(msg);
      else {
        for (const w of this.#events.filter((w) => w.method === msg.method)) {
          this.#events.splice(this.#events.indexOf(w), 1);
          w.resolve();
        }
      }
    };
    await this.send("Page.enable");
    await this.send("Emulation.setDeviceMetricsOverride", {
      width,
      height,
      deviceScaleFactor: 1,
      mobile: width < 600,
    });
  }

  send(method: string, params: Record<string, unknown> = {}): Promise<unknown> {
    const id = ++this.#id;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${method}: no answer`)), 30_000);
      this.#pending.set(id, (msg) => {
        clearTimeout(timer);
        this.#pending.delete(id);
        if (msg.error) reject(new Error(`${method}: ${msg.error.message}`));
        else resolve(msg.result);
      });
      this.#ws.send(JSON.stringify({ id, method, params }));
    });
  }

  /** Navigates and waits for the load event; `javascript: false` disables page scripts first. */
  async load(url: string, opts: { javascript?: boolean } = {}): Promise<void> {
    await this.send("Emulation.setScriptExecutionDisabled", { value: opts.javascript === false });
    const loaded = new Promise<void>((resolve) =>
      this.#events.push({ method: "Page.loadEventFired", resolve })
    );
    await this.send("Page.navigate", { url });
    await loaded;
  }

  /** Evaluates an expression in the page (allowed even when page scripts are disabled). */
  async evaluate<T>(expression: string): Promise<T> {
    const r = await this.send("Runtime.evaluate", { expression, returnByValue: true }) as {
      result: { value: T };
      exceptionDetails?: unknown;
    };
    if (r.exceptionDetails) {
      throw new Error(`evaluate failed: ${JSON.stringify(r.exceptionDetails)}`);
    }
    return r.result.value;
  }

  /** A PNG of the whole page. */
  async screenshot(): Promise<Uint8Array> {
    const r = await this.send("Page.captureScreenshot", {
      format: "png",
      captureBeyondViewport: true,
    }) as { data: string };
    return Uint8Array.from(atob(r.data), (c) => c.charCodeAt(0));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    try {
      this.#ws?.close();
    } catch { /* already closed */ }
    try {
      this.#child.kill("SIGKILL");
    } catch { /* already gone */ }
    await this.#child.status;
    await Deno.remove(this.#profile, { recursive: true }).catch(() => {});
  }
}

/** The text a person reads in an HTML document: tags dropped, entities decoded, spaces collapsed. */
export function visibleText(html: string): string {
  return html
    .replace(/<(style|script|head)\b[^>]*>.*?<\/\1>/gs, " ")
    .replace(/<[^>]+>/g, " ")
    .replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"').replace(/&#39;/g, "'")
    .replace(/&amp;/g, "&")
    .replace(/\s+/g, " ")
    .trim();
}

/** Every entry under `root`: type, mode, owner, size, content hash and mtime, by relative path. */
export async function snapshot(root: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (dir: string) => {
    for await (const e of Deno.readDir(dir)) {
      const full = join(dir, e.name);
      const st = await Deno.lstat(full);
      let hash = "";
      if (st.isFile) {
        const digest = await crypto.subtle.digest("SHA-256", await Deno.readFile(full));
        hash = [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
      }
      const kind = st.isDirectory ? "d" : st.isSymlink ? "l" : "f";
      out.set(
        full.slice(root.length),
        `${kind} ${
          (st.mode! & 0o7777).toString(8)
        } ${st.uid}:${st.gid} ${st.size} ${hash} ${st.mtime?.getTime()}`,
      );
      if (st.isDirectory) await walk(full);
    }
  };
  await walk(root);
  return out;
}

/** A loopback port nobody listens on (bound, then released). */
export function freePort(hostname = "127.0.0.1"): number {
  const l = Deno.listen({ hostname, port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}
