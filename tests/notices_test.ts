/**
 * What the views say about an incident's notification is what happened to it: a real node with a
 * failing check, an empty alert.d/ and then a real webhook receiver; `dmonitor status` (text and
 * JSON), `dmonitor outbox retry ID` and `dmonitor config check` as a user runs them.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { dmonitor, NodeProcess, writeTree } from "./util.ts";

interface Notice {
  kind: string;
  recipient: string | null;
  state: string;
  by: string | null;
  lastError: string | null;
}
interface Incident {
  host: string;
  notified: boolean;
  notices: Notice[];
}

async function incidents(tree: string): Promise<Incident[]> {
  const r = await dmonitor(["status", "--config", tree, "--json"]);
  return JSON.parse(r.stdout).incidents;
}

async function until<T>(what: string, f: () => Promise<T | null>, ms = 45_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== null) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function config(addr: string, state: string): string {
  return `node: n-notice\nlisten: ${addr}\nstate_dir: ${state}\ninterval: 1s\ntimeout: 900ms\n`;
}

Deno.test("no recipients: the views say NOT NOTIFIED; retry ID after adding one delivers it", async () => {
  const bodies: { kind: string }[] = [];
  await using hook = Deno.serve(
    { hostname: "127.0.120.2", port: 0, onListen: () => {} },
    async (req) => {
      bodies.push(await req.json());
      return new Response("ok");
    },
  );
  const state = await Deno.makeTempDir();
  const tree = await writeTree({
    "dmonitor.yaml": config("127.0.120.1:2929", state),
    "hosts.d/127.0.0.1/svc": "",
    "plugins/check_svc": "#!/bin/sh\necho FAIL down on purpose\n",
  });
  await using node = new NodeProcess(["--config", tree], { DMONITOR_LOG_LEVEL: "info" });
  await node.waitFor(/no alert target configured/);

  const [inc] = await incidents(tree);
  assert.equal(inc!.notified, false, "nothing was delivered");
  assert.deepEqual(inc!.notices.map((n) => [n.kind, n.recipient, n.state]), [
    ["down", null, "no recipients"],
  ]);
  const text = await dmonitor(["status", "--config", tree]);
  assert.match(text.stdout, /notifier n-notice, NOT NOTIFIED: no recipients$/m);
  assert.match(
    text.stdout,
    /^ {4}notice: down NOT SENT: no recipients \(no alert target configured in alert\.d\/\)$/m,
  );
  assert.doesNotMatch(text.stdout, /, notified/);

  const none = await dmonitor(["outbox", "retry", "1", "--config", tree]);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /message 1 has no recipient and alert\.d\/ still has none/);

  await Deno.mkdir(join(tree, "alert.d"), { mode: 0o755 });
  await Deno.writeTextFile(
    join(tree, "alert.d/ops.webhook"),
    `http://127.0.120.2:${hook.addr.port}/hook\n`,
  );
  await Deno.chmod(join(tree, "alert.d/ops.webhook"), 0o644);
  node.kill("SIGHUP");
  await node.waitFor(/configuration reloaded/);
  const retry = await dmonitor(["outbox", "retry", "1", "--config", tree]);
  assert.equal(retry.code, 0, retry.stderr);
  assert.equal(retry.stdout, "1 message queued again\n");
  await until("the webhook", () => Promise.resolve(bodies.length > 0 ? true : null));
  assert.equal(bodies[0]!.kind, "down");
  const delivered = await until("a delivered notice", async () => {
    const [i] = await incidents(tree);
    return i?.notified ? i : null;
  });
  assert.deepEqual(delivered.notices.map((n) => [n.recipient, n.state, n.by]), [
    ["webhook:ops", "delivered", "n-notice"],
  ]);
  const after = await dmonitor(["status", "--config", tree]);
  assert.match(
    after.stdout,
    /^ {4}notice: down to webhook:ops delivered \d+s ago \(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\) by n-notice$/m,
  );
});

Deno.test("a refusing receiver: the incident is not notified, with the error and the next try", async () => {
  await using hook = Deno.serve(
    { hostname: "127.0.120.4", port: 0, onListen: () => {} },
    () => new Response("no", { status: 503 }),
  );
  const state = await Deno.makeTempDir();
  const tree = await writeTree({
    "dmonitor.yaml": config("127.0.120.3:2929", state),
    "hosts.d/127.0.0.1/svc": "",
    "plugins/check_svc": "#!/bin/sh\necho FAIL down on purpose\n",
    "alert.d/ops.webhook": `http://127.0.120.4:${hook.addr.port}/hook\n`,
  });
  await using node = new NodeProcess(["--config", tree], { DMONITOR_LOG_LEVEL: "info" });
  await node.waitFor(/node started/);
  const inc = await until("a failed attempt", async () => {
    const [i] = await incidents(tree);
    return i?.notices?.some((n) => n.state === "retrying") ? i : null;
  });
  assert.equal(inc.notified, false);
  assert.match(inc.notices[0]!.lastError ?? "", /503/);
  const text = await dmonitor(["status", "--config", tree]);
  assert.match(text.stdout, /notifier n-notice, not delivered yet, retrying$/m);
  assert.match(
    text.stdout,
    /^ {4}notice: down to webhook:ops not delivered yet: .*503.*; next try in \d+s \(\d{4}-.*Z\)$/m,
  );
});

Deno.test("config check counts every kind of alert target", async () => {
  const tree = await writeTree({
    "dmonitor.yaml": "state_dir: state\n",
    "alert.d/ops@example.com": "",
    "alert.d/chat.webhook": "http://127.0.120.5:9/hook\n",
    "alert.d/pager.command": "#!/bin/sh\nexit 0\n",
  });
  await Deno.chmod(join(tree, "alert.d/pager.command"), 0o755);
  const r = await dmonitor(["config", "check", "--config", tree]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(
    r.stdout,
    /, 3 alert targets \(1 email, 1 webhook, 1 command\)$/m,
  );
});
