// `dmonitor sync` as a process (main.ts sync):
// --once for cron, --pandora-conf, exit codes, and `config check` reporting a broken sync: section.
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { startTestServer } from "../lib/tentacle/testing.ts";
import { dataFile, notification, result } from "../lib/sync/testing.ts";
import { freePortOn } from "./sync_util.ts";
import { dmonitor, ROOT, writeTree } from "./util.ts";

const MAIN = join(ROOT, "main.ts");
const HOST = "127.0.107.1";

async function sync(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", MAIN, "sync", ...args],
    env: { NO_COLOR: "1" },
    stdin: "null",
    signal: AbortSignal.timeout(60_000),
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("dmonitor sync --once --pandora-conf: pulls every site once, notifies, prints a summary", async () => {
  await using srv = await startTestServer({ insecure: true, addresses: [HOST] });
  const now = Date.now();
  await Deno.writeTextFile(
    join(srv.dir, "a.1.data"),
    dataFile("n1", now, [result({ startedAt: now })]),
  );
  await Deno.writeTextFile(
    join(srv.dir, "a.2.data"),
    dataFile("n1", now + 1000, [], [notification()]),
  );
  const dead = freePortOn(HOST);
  const dir = await writeTree({
    "dmonitor.yaml": "node: central\nstate_dir: state\nsync:\n  interval: 30s\n",
    "nodes.txt": "",
  });
  const conf = join(dir, "pandora_server.conf");
  await Deno.writeTextFile(
    conf,
    `# excerpt of a Pandora server configuration\nservername central\nsyncserver 1\nsync_address ${HOST}\n` +
      `sync_port ${srv.port}\nsync_retries 0\nsync_timeout 2\n`,
  );
  const ok = await sync(["--config", dir, "--once", "--pandora-conf", conf]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.stdout, `${HOST}: ingested 2, duplicates 0, rejected 0, kept 0, config none\n`);
  assert.deepEqual((await Array.fromAsync(Deno.readDir(srv.dir))).map((e) => e.name), []);
  const db = new DatabaseSync(join(dir, "state/state.db"));
  try {
    const rows = db.prepare("SELECT notification_id, status, last_error FROM alert_outbox")
      .all() as Record<string, string>[];
    // No alert target configured: recorded as undeliverable, visible in `dmonitor outbox`.
    assert.deepEqual(rows.map((r) => [r.notification_id, r.status]), [[
      `site/${HOST}/inc-1/down`,
      "failed",
    ]]);
    assert.equal((db.prepare("SELECT files FROM sync_sites").get() as { files: number }).files, 2);
  } finally {
    db.close();
  }
  // A site that cannot be reached: exit 1, one line per site.
  await Deno.writeTextFile(
    conf,
    `syncserver 1\nsync_address ${HOST}:${srv.port},${HOST}:${dead}\nsync_retries 0\nsync_timeout 1\n`,
  );
  const bad = await sync(["--config", dir, "--once", "--pandora-conf", conf]);
  assert.equal(bad.code, 1);
  const lines = bad.stdout.trim().split("\n");
  assert.equal(
    lines[0],
    `${HOST}:${srv.port}: ingested 0, duplicates 0, rejected 0, kept 0, config none`,
  );
  assert.match(
    lines[1]!,
    new RegExp(
      `^${HOST.replaceAll(".", "\\.")}:${dead}: FAILED after 1 attempt\\(s\\): Cannot connect`,
    ),
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("dmonitor sync: usage errors, missing settings, unreadable pandora_server.conf", async () => {
  const help = await sync(["--help"]);
  assert.equal(help.code, 0);
  assert.match(
    help.stdout,
    /^Usage: dmonitor sync \[--config DIR\] \[--once\] \[--pandora-conf FILE\]/,
  );
  const flag = await sync(["--bogus"]);
  assert.equal(flag.code, 64);
  assert.match(
    flag.stderr,
    /^dmonitor sync: Unknown option '--bogus' \(see 'dmonitor sync --help'\)\n$/,
  );
  const dir = await writeTree({ "dmonitor.yaml": "state_dir: state\n", "nodes.txt": "" });
  const none = await sync(["--config", dir, "--once"]);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /dmonitor\.yaml: 'sync' is missing: there is no site to pull/);
  const missing = await sync(["--config", dir, "--pandora-conf", join(dir, "nope.conf")]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /cannot read --pandora-conf .*nope\.conf: does not exist/);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("dmonitor config check reports broken spool: and sync: sections, each problem on its line", async () => {
  const dir = await writeTree({
    "dmonitor.yaml":
      "state_dir: state\nspool:\n  max_size: huge\nsync:\n  sync_address: 127.0.107.2\n  sync_port: 99999\n",
    "nodes.txt": "",
  });
  const r = await dmonitor(["config", "check", "--config", dir]);
  assert.equal(r.code, 1);
  assert.match(
    r.stdout + r.stderr,
    /dmonitor\.yaml: 'spool\.max_size' must be a size such as 100MB or 2GB, got "huge"/,
  );
  assert.match(
    r.stdout + r.stderr,
    /dmonitor\.yaml: 'sync\.sync_port' must be from 1 to 65535, got 99999/,
  );
  await Deno.remove(dir, { recursive: true });
});
