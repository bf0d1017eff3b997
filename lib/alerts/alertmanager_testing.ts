/**
 * Test support: a real Prometheus Alertmanager (Debian's `prometheus-alertmanager`) on a loopback
 * address, with a throw-away config and storage in a temp dir and gossip off. Installed with apt
 * when missing; tests skip (with the reason) only when it cannot be installed at all. Not part of
 * the public surface.
 * @module
 */

export const ALERTMANAGER_BIN = "/usr/bin/prometheus-alertmanager";

const CONFIG = `route:
  receiver: nobody
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: nobody
`;

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

async function apt(args: string[]): Promise<boolean> {
  try {
    const r = await new Deno.Command("apt-get", {
      args,
      env: { DEBIAN_FRONTEND: "noninteractive" },
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).output();
    return r.success;
  } catch {
    return false;
  }
}

let installed: Promise<string | null> | null = null;

/** Null when the binary is there (installing it if needed), else why the tests cannot run. */
export function alertmanagerMissing(): Promise<string | null> {
  installed ??= (async () => {
    if (await exists(ALERTMANAGER_BIN)) return null;
    const install = ["install", "-y", "--no-install-recommends", "prometheus-alertmanager"];
    if (!(await apt(install))) await apt(["update"]).then(() => apt(install));
    if (await exists(ALERTMANAGER_BIN)) return null;
    return `${ALERTMANAGER_BIN} is missing and 'apt-get install prometheus-alertmanager' failed`;
  })();
  return installed;
}

/** One alert as `GET /api/v2/alerts` lists it (active, silenced or suppressed, never resolved). */
export interface ListedAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  updatedAt: string;
  fingerprint: string;
  status: { state: string };
}

export interface RunningAlertmanager extends AsyncDisposable {
  /** Base URL, `http://127.0.116.1:9093/`. */
  url: string;
  port: number;
  /** Alerts currently listed (resolved ones are not). */
  alerts(): Promise<ListedAlert[]>;
  /** Stops the process (keeps the port number for {@link startAlertmanager} again). */
  stop(): Promise<void>;
}

/**
 * Starts Alertmanager on `hostname` (port 0: any free one), waits until it is ready.
 * @example
 * await using am = await startAlertmanager("127.0.116.1");
 * console.log(await am.alerts());
 */
export async function startAlertmanager(
  hostname: string,
  port = 0,
): Promise<RunningAlertmanager> {
  const dir = await Deno.makeTempDir({ prefix: "dmonitor-am-" });
  await Deno.writeTextFile(`${dir}/alertmanager.yml`, CONFIG);
  const child = new Deno.Command(ALERTMANAGER_BIN, {
    args: [
      `--config.file=${dir}/alertmanager.yml`,
      `--storage.path=${dir}/data`,
      `--web.listen-address=${hostname}:${port}`,
      "--cluster.listen-address=",
      "--log.level=info",
    ],
    clearEnv: true,
    env: { PATH: "/usr/bin:/bin" },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  // It logs `msg="Listening on" address=127.0.116.1:41234`: the port when 0 was asked for.
  let log = "";
  const lines = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  const end = Date.now() + 30_000;
  let bound = 0;
  while (!bound) {
    const { done, value } = await lines.read();
    if (done || Date.now() > end) {
      try {
        child.kill("SIGKILL");
      } catch { /* already gone */ }
      await child.status;
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      throw new Error(`Alertmanager did not start on ${hostname}:${port}:\n${log}`);
    }
    log += value;
    const m = /msg="Listening on" address=[\d.]+:(\d+)/.exec(log);
    if (m) bound = Number(m[1]);
  }
  // Keep draining its log so it never blocks on a full pipe.
  (async () => {
    while (!(await lines.read()).done) { /* drop */ }
  })().catch(() => {});
  const url = `http://${hostname}:${bound}/`;
  for (;;) {
    const ok = await fetch(`${url}-/ready`).then(async (r) => (await r.body?.cancel(), r.ok))
      .catch(() => false);
    if (ok) break;
    if (Date.now() > end) throw new Error(`Alertmanager at ${url} never became ready`);
    await new Promise((r) => setTimeout(r, 100));
  }
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    try {
      child.kill("SIGTERM");
    } catch { /* already gone */ }
    await child.status;
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  return {
    url,
    port: bound,
    async alerts() {
      const r = await fetch(`${url}api/v2/alerts`);
      if (!r.ok) throw new Error(`GET ${url}api/v2/alerts: HTTP ${r.status}`);
      return await r.json() as ListedAlert[];
    },
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

/** Polls `ok` every 100 ms until true; throws naming `what` after `ms`. */
export async function until(
  what: string,
  ok: () => boolean | Promise<boolean>,
  ms = 60_000,
): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
