/**
 * The POSIX-sh plugins in plugins/, run three ways: under busybox sh with a PATH holding only
 * busybox applets (an appliance); under busybox sh with the plugin runner's PATH (Debian's tools:
 * iputils ping, GNU wget, no netcat, so check_tcp falls back to `busybox nc`); and executed
 * directly, as the runner does, so `#!/bin/sh` (dash on Debian) runs them.
 */
import assert from "node:assert/strict";
import { closedPort, drain, startTcpServer } from "./testing.ts";

const PLUGINS = new URL("../../plugins/", import.meta.url).pathname;
const BUSYBOX = "/usr/bin/busybox";
/** The PATH lib/runner gives plugins (PLUGIN_PATH there). */
const RUNNER_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

type Mode = "busybox-only" | "system" | "direct";

let appletDir: string | undefined;
/** A directory with a symlink per busybox applet, created once and removed when the run ends. */
async function applets(): Promise<string> {
  if (appletDir) return appletDir;
  const dir = await Deno.makeTempDir({ prefix: "dmonitor-busybox-" });
  const st = await new Deno.Command(BUSYBOX, { args: ["--install", "-s", dir] }).output();
  assert.ok(st.success, "busybox --install -s");
  globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
  return appletDir = dir;
}

interface Run {
  code: number;
  first: string;
  stdout: string;
}

async function runPlugin(
  mode: Mode,
  name: string,
  host: string,
  env: Record<string, string> = {},
): Promise<Run> {
  const path = mode === "busybox-only" ? await applets() : RUNNER_PATH;
  const [cmd, args] = mode === "direct"
    ? [PLUGINS + name, [host]]
    : [BUSYBOX, ["sh", PLUGINS + name, host]];
  const out = await new Deno.Command(cmd, {
    args,
    clearEnv: true,
    env: { PATH: path, DMONITOR_HOST: host, ...env },
    cwd: "/",
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(20_000),
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  return { code: out.code, first: stdout.split("\n")[0] ?? "", stdout };
}

const MODES: Mode[] = ["busybox-only", "system", "direct"];

Deno.test("plugins: the shipped checks exist, are mode 0755 and start with #!/bin/sh", async () => {
  for (const name of ["check_ping", "check_tcp", "check_http", "check_disk"]) {
    const st = await Deno.stat(PLUGINS + name);
    assert.equal((st.mode ?? 0) & 0o777, 0o755, name);
    const text = await Deno.readTextFile(PLUGINS + name);
    assert.ok(text.startsWith("#!/bin/sh\n"), name);
  }
});

Deno.test("check_ping: OK for 127.0.0.1; FAIL on bad input or without ping", async () => {
  for (const mode of MODES) {
    const r = await runPlugin(mode, "check_ping", "127.0.0.1", { DMONITOR_COUNT: "2" });
    assert.match(
      r.first,
      /^OK 127\.0\.0\.1: 2 packets transmitted, 2 (packets )?received, 0% packet loss/,
      mode,
    );
    assert.equal(r.code, 0);
    const bad = await runPlugin(mode, "check_ping", "-f");
    assert.equal(bad.first, "FAIL usage: check_ping HOST (got '-f')");
    assert.equal(bad.code, 2);
    const count = await runPlugin(mode, "check_ping", "127.0.0.1", { DMONITOR_COUNT: "lots" });
    assert.equal(count.first, "FAIL DMONITOR_COUNT must be a number, got 'lots'");
  }
  const empty = await Deno.makeTempDir();
  try {
    const out = await new Deno.Command(BUSYBOX, {
      args: ["sh", PLUGINS + "check_ping", "127.0.0.1"],
      clearEnv: true,
      env: { PATH: empty },
    }).output();
    assert.equal(new TextDecoder().decode(out.stdout), `FAIL ping not found in PATH (${empty})\n`);
  } finally {
    await Deno.remove(empty);
  }
});

Deno.test("check_tcp: OK when the port accepts, FAIL when refused or unset", async () => {
  await using srv = startTcpServer(drain); // hangs up when the client half-closes
  const refused = closedPort();
  for (const mode of MODES) {
    const r = await runPlugin(mode, "check_tcp", "127.0.0.1", { DMONITOR_PORT: String(srv.port) });
    assert.equal(r.first, `OK connected to 127.0.0.1:${srv.port}`, mode);
    assert.equal(r.code, 0);
    const no = await runPlugin(mode, "check_tcp", "127.0.0.1", { DMONITOR_PORT: String(refused) });
    assert.match(
      no.first,
      new RegExp(`^FAIL cannot connect to 127\\.0\\.0\\.1:${refused}: .*Connection refused`),
      mode,
    );
    assert.equal(no.code, 2);
    const unset = await runPlugin(mode, "check_tcp", "127.0.0.1");
    assert.equal(unset.first, "FAIL DMONITOR_PORT is not set: add 'port: N' to the test file");
    const bad = await runPlugin(mode, "check_tcp", "127.0.0.1", { DMONITOR_PORT: "70000" });
    assert.equal(bad.first, "FAIL DMONITOR_PORT must be 1-65535, got '70000'");
  }
});

Deno.test("check_tcp: OK (after 5 s) when the server keeps the connection open", async () => {
  // The connection is accepted and then neither side speaks: `timeout` ends nc, which can only
  // happen after it connected.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const c of listener) held.push(c);
  })().catch(() => {});
  try {
    const r = await runPlugin("busybox-only", "check_tcp", "127.0.0.1", {
      DMONITOR_PORT: String(listener.addr.port),
    });
    assert.equal(r.first, `OK connected to 127.0.0.1:${listener.addr.port}`);
  } finally {
    listener.close();
    held.forEach((c) => c.close());
    await accepting;
  }
});

Deno.test("check_http: status, redirects, expect_body and refused port, with both wgets", async () => {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const path = new URL(req.url).pathname;
    if (path === "/") return new Response("dmonitor demo page\n");
    if (path === "/old") return new Response(null, { status: 302, headers: { location: "/" } });
    if (path === "/boom") return new Response("boom", { status: 500 });
    return new Response("nope", { status: 404 });
  });
  const port = String(server.addr.port);
  const base = `http://127.0.0.1:${port}`;
  const refused = String(closedPort());
  try {
    for (const mode of MODES) {
      const ok = await runPlugin(mode, "check_http", "127.0.0.1", { DMONITOR_PORT: port });
      assert.equal(ok.first, `OK HTTP 200 from ${base}/`, mode);
      assert.equal(ok.code, 0);
      const moved = await runPlugin(mode, "check_http", "127.0.0.1", {
        DMONITOR_PORT: port,
        DMONITOR_PATH: "old",
      });
      assert.equal(moved.first, `OK HTTP 200 from ${base}/old`, mode);
      const body = await runPlugin(mode, "check_http", "127.0.0.1", {
        DMONITOR_PORT: port,
        DMONITOR_EXPECT_BODY: "demo page",
      });
      assert.equal(body.first, `OK HTTP 200 from ${base}/`, mode);
      const nobody = await runPlugin(mode, "check_http", "127.0.0.1", {
        DMONITOR_PORT: port,
        DMONITOR_EXPECT_BODY: "welcome",
      });
      assert.equal(
        nobody.first,
        `FAIL HTTP 200 from ${base}/, but the body does not contain 'welcome'`,
        mode,
      );
      const missing = await runPlugin(mode, "check_http", "127.0.0.1", {
        DMONITOR_PORT: port,
        DMONITOR_PATH: "/x",
      });
      assert.equal(missing.first, `FAIL HTTP 404 from ${base}/x`, mode);
      assert.equal(missing.code, 2);
      const boom = await runPlugin(mode, "check_http", "127.0.0.1", {
        DMONITOR_PORT: port,
        DMONITOR_PATH: "/boom",
      });
      assert.equal(boom.first, `FAIL HTTP 500 from ${base}/boom`, mode);
      const down = await runPlugin(mode, "check_http", "127.0.0.1", { DMONITOR_PORT: refused });
      assert.match(
        down.first,
        new RegExp(`^FAIL no HTTP answer from http://127\\.0\\.0\\.1:${refused}/: `),
        mode,
      );
    }
  } finally {
    await server.shutdown();
  }
});

Deno.test("check_disk: compares / usage with DMONITOR_MAX_PERCENT", async () => {
  for (const mode of MODES) {
    const ok = await runPlugin(mode, "check_disk", "localhost", { DMONITOR_MAX_PERCENT: "100" });
    assert.match(
      ok.first,
      /^OK \/ is \d+% full \(max 100%\), [\d.]+ GiB free \| used=\d+%;;100$/,
      mode,
    );
    assert.equal(ok.code, 0);
    const used = Number(/is (\d+)% full/.exec(ok.first)?.[1]);
    assert.ok(used > 0, "the test needs a root file system that is not empty");
    const full = await runPlugin(mode, "check_disk", "localhost", { DMONITOR_MAX_PERCENT: "0" });
    assert.match(full.first, new RegExp(`^FAIL / is ${used}% full \\(max 0%\\), `), mode);
    assert.equal(full.code, 2);
    const dflt = await runPlugin(mode, "check_disk", "localhost");
    assert.match(dflt.first, /\(max 90%\)/);
    const bad = await runPlugin(mode, "check_disk", "localhost", { DMONITOR_MAX_PERCENT: "101" });
    assert.equal(bad.first, "FAIL DMONITOR_MAX_PERCENT must be a number 0-100, got '101'");
    const nopath = await runPlugin(mode, "check_disk", "localhost", {
      DMONITOR_PATH: "/nonexistent/dir",
    });
    assert.match(nopath.first, /^FAIL df \/nonexistent\/dir: .*/, mode);
  }
});
