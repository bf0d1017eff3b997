// End to end: the server as its own process through the hidden entry point, with -d (daemon).
import assert from "node:assert/strict";
import { TentacleClient } from "../lib/tentacle/client.ts";
import { tempDir, text } from "../lib/tentacle/testing.ts";
import { giveToServerUser } from "../lib/privilege/testing.ts";

const ENTRY = new URL("../lib/tentacle/server_main.ts", import.meta.url).pathname;

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.112.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** Pids of processes whose command line contains `needle` (our own daemon, found by its dir). */
async function pidsWith(needle: string): Promise<number[]> {
  const pids: number[] = [];
  for await (const e of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(e.name) || Number(e.name) === Deno.pid) continue;
    const cmd = await Deno.readTextFile(`/proc/${e.name}/cmdline`).catch(() => "");
    if (cmd.includes(needle) && cmd.includes("server_main.ts")) pids.push(Number(e.name));
  }
  return pids;
}

Deno.test("tentacle-server -d: returns 0 at once, the detached copy serves until SIGTERM", async () => {
  await using d = await tempDir();
  await giveToServerUser(d.path); // started as root, the server runs as dmonitor or nobody
  const port = freePort();
  const t0 = Date.now();
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      // A runtime flag the copy must keep (the release V8 flags are passed this way).
      "--v8-flags=--stack-size=900",
      ENTRY,
      "-d",
      "-s",
      d.path,
      "-a",
      "127.0.112.1",
      "-p",
      String(port),
      "-q",
    ],
    stdin: "null",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  assert.ok(Date.now() - t0 < 10_000);
  let pids: number[] = [];
  try {
    let client: TentacleClient | null = null;
    for (let i = 0; i < 100 && !client; i++) {
      client = await TentacleClient.connect({ host: "127.0.112.1", port, probe: false }).catch(() =>
        null
      );
      if (!client) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(client, "the daemon accepts connections");
    await client.send("d.data", text("daemon"));
    await client.quit();
    assert.equal(await Deno.readTextFile(`${d.path}/d.data`), "daemon");
    pids = await pidsWith(d.path);
    assert.equal(pids.length, 1);
    const argv = (await Deno.readTextFile(`/proc/${pids[0]}/cmdline`)).split("\0");
    assert.ok(argv.includes("--v8-flags=--stack-size=900"), argv.join(" "));
  } finally {
    for (const pid of pids) Deno.kill(pid, "SIGTERM");
  }
  for (let i = 0; i < 50 && (await pidsWith(d.path)).length > 0; i++) {
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.deepEqual(await pidsWith(d.path), []);
});

Deno.test("server_main.ts: a bad flag exits 64 with one line; a taken port exits 1", async () => {
  const bad = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", ENTRY, "-Y"],
    stdin: "null",
  }).output();
  assert.equal(bad.code, 64);
  assert.equal(
    new TextDecoder().decode(bad.stderr),
    "tentacle-server: unknown option -Y (see tentacle-server -h)\n",
  );
  await using d = await tempDir();
  await giveToServerUser(d.path);
  using taken = Deno.listen({ hostname: "127.0.112.1", port: 0 });
  const port = (taken.addr as Deno.NetAddr).port;
  const busy = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", ENTRY, "-s", d.path, "-a", "127.0.112.1", "-p", String(port)],
    stdin: "null",
  }).output();
  assert.equal(busy.code, 1);
  assert.match(
    new TextDecoder().decode(busy.stderr),
    /^\[err\] Cannot start tentacle server: no address of 127.0.112.1 could bind port \d+$/m,
  );
});
