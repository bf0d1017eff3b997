/**
 * Routing (issue 17) on a real node: one node, quorum 1, a plugin that fails while a flag file
 * exists, two `.command` entries (one routed to `tests: [other]`, one unrouted) and two webhooks
 * on a real receiver, one with `min_duration: 3s` and one with `min_duration: 1h`.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { dmonitor, NodeProcess, writeTree } from "./util.ts";

async function until<T>(what: string, f: () => Promise<T | null> | T | null, ms = 60_000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== null) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function lines(file: string): Promise<string[]> {
  try {
    return (await Deno.readTextFile(file)).split("\n").filter((l) => l);
  } catch {
    return [];
  }
}

Deno.test("routed entries receive exactly their notices; min_duration holds and drops", async () => {
  const hooks: { path: string; kind: string; startedAt: number; at: number }[] = [];
  await using hook = Deno.serve(
    { hostname: "127.0.131.2", port: 0, onListen: () => {} },
    async (req) => {
      const b = await req.json();
      hooks.push({
        path: new URL(req.url).pathname,
        kind: b.kind,
        startedAt: Date.parse(b.started_at),
        at: Date.now(),
      });
      return new Response("ok");
    },
  );
  const out = await Deno.makeTempDir();
  await Deno.chmod(out, 0o777); // commands and plugins run as plugin_user (nobody) under root
  const flag = join(out, "down");
  await Deno.writeTextFile(flag, "");
  const state = await Deno.makeTempDir();
  const record = (name: string) =>
    `#!/bin/sh\necho "$DMONITOR_KIND $DMONITOR_TEST" >> ${out}/${name}\n`;
  const url = `http://127.0.131.2:${hook.addr.port}`;
  const tree = await writeTree({
    "dmonitor.yaml":
      `node: n-route\nlisten: 127.0.131.1:2929\nstate_dir: ${state}\ninterval: 1s\ntimeout: 900ms\n`,
    "hosts.d/127.0.0.1/svc": "",
    "plugins/check_svc": `#!/bin/sh\nif [ -e ${flag} ]; then echo FAIL flag; exit 2; fi\necho OK\n`,
    "alert.d/all.command": record("all"),
    "alert.d/other.command": record("other"),
    "alert.d/other.command.route": "tests: [other]\n",
    "alert.d/slow.webhook": `${url}/slow\nmin_duration: 3s\n`,
    "alert.d/late.webhook": `${url}/late\n# never told: the outage ends first\nmin_duration: 1h\n`,
  });
  for (const c of ["all", "other"]) await Deno.chmod(join(tree, `alert.d/${c}.command`), 0o755);
  await using _node = new NodeProcess(["--config", tree], { DMONITOR_LOG_LEVEL: "info" });

  await until(
    "the unrouted command's down notice",
    async () => (await lines(join(out, "all"))).length > 0 ? true : null,
  );
  const text = await dmonitor(["status", "--config", tree]);
  assert.match(text.stdout, /^ {4}notice: down to command:other not routed \(tests other\)$/m);
  assert.match(text.stdout, /^ {4}notice: down to webhook:late queued, due in (1h|59m)/m);

  const slowDown = await until(
    "slow's held down notice",
    () => hooks.find((h) => h.path === "/slow" && h.kind === "down") ?? null,
  );
  assert.ok(
    slowDown.at - slowDown.startedAt >= 3_000,
    `min_duration 3s held the notice (${slowDown.at - slowDown.startedAt} ms after the start)`,
  );
  await Deno.remove(flag);
  await until(
    "the recoveries",
    async () =>
      (await lines(join(out, "all"))).includes("recovered svc") &&
        hooks.some((h) => h.path === "/slow" && h.kind === "recovered")
        ? true
        : null,
  );
  // Let anything wrongly queued for the others be delivered before looking.
  await new Promise((r) => setTimeout(r, 2_000));
  assert.deepEqual(await lines(join(out, "all")), ["down svc", "recovered svc"]);
  assert.deepEqual(await lines(join(out, "other")), [], "routed away: no notice at all");
  assert.deepEqual(hooks.map((h) => `${h.path} ${h.kind}`), ["/slow down", "/slow recovered"]);
  const outbox = await dmonitor(["outbox", "--all", "--config", tree]);
  assert.match(outbox.stdout, /muted .*late.*not routed: recovered before min_duration/);
  assert.match(outbox.stdout, /muted .*other.*not routed: tests other/);
  const check = await dmonitor(["config", "check", "--config", tree]);
  assert.equal(check.code, 0, check.stderr + check.stdout);
});
