/**
 * The status page as a person sees it: a real node process with checks up and down, the page
 * loaded in headless Chromium (JavaScript off, phone-sized), the JSON from the same view,
 * `dmonitor status` in the terminal, and access rules over real loopback sockets.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { dmonitor, NodeProcess, writeTree } from "./util.ts";
import { Browser, chromium, visibleText } from "./ops_util.ts";
import { giveToServerUser } from "../lib/privilege/testing.ts";

const ADDR = "127.0.106.2:2929";
const BASE = `http://${ADDR}`;

Deno.test("status page, JSON and terminal view of a running node with checks up and down", async (t) => {
  using service = Deno.listen({ hostname: "127.0.106.1", port: 0 });
  (async () => {
    for await (const c of service) c.close();
  })().catch(() => {});
  const state = await Deno.makeTempDir();
  const tree = await writeTree({
    "dmonitor.yaml":
      `node: page-node\nlisten: ${ADDR}\nstate_dir: ${state}\ninterval: 1s\ntimeout: 900ms\n` +
      "status:\n  refresh: 5s\n",
    "hosts.d/127.0.106.1/web": "",
    "hosts.d/127.0.106.1/tcp": `port: ${(service.addr as Deno.NetAddr).port}\n`,
    "hosts.d/db.example/disk": "",
    "hosts.d/db.example/queue": "",
    "plugins/check_web": "#!/bin/sh\necho OK 200 in 3 ms\n",
    "plugins/check_disk": "#!/bin/sh\necho 'FAIL /var is 97% full <b>now</b>'\n",
    "plugins/check_queue": "#!/bin/sh\necho 'FAIL 5123 messages waiting'\n",
    "silence.d/db.example/queue": "2126-01-01T00:00Z\nqueue migration (Ann)\n",
  });
  await using node = new NodeProcess(["--config", tree]);
  await node.waitFor(/node started/);
  for (const test of ["web", "tcp", "disk", "queue"]) {
    await node.waitFor(new RegExp(`test=${test} status=`));
  }

  await t.step("JSON: the view, with every configured check", async () => {
    const res = await fetch(`${BASE}/v1/status`);
    assert.equal(res.status, 200);
    const v = await res.json();
    assert.equal(v.node, "page-node");
    assert.equal(v.mode, "single-node");
    const by = Object.fromEntries(
      v.checks.map((
        c: { host: string; test: string; status: string },
      ) => [`${c.host} ${c.test}`, c]),
    );
    assert.equal(by["127.0.106.1 web"].status, "OK");
    assert.equal(by["127.0.106.1 tcp"].status, "OK");
    assert.equal(by["db.example disk"].status, "FAIL");
    assert.equal(by["db.example disk"].output, "/var is 97% full <b>now</b>");
    assert.equal(by["db.example queue"].status, "FAIL");
    assert.deepEqual(v.silences, [{
      host: "db.example",
      test: "queue",
      until: Date.parse("2126-01-01T00:00Z"),
      reason: "queue migration (Ann)",
      file: "silence.d/db.example/queue",
    }]);
  });

  await t.step(
    "Chromium, JavaScript off, phone viewport: what is down comes first, nothing overflows",
    async () => {
      await using browser = await Browser.open(390, 844);
      await browser.load(`${BASE}/`, { javascript: false });
      const text = (await browser.evaluate<string>("document.body.innerText")).replace(/\s+/g, " ");
      assert.match(text, /dmonitor · page-node single-node mode/);
      assert.match(text, /1 of 4 checks down \(1 silenced\)/);
      assert.match(text, /Checks \(2 up, 1 down, 1 silenced\)/);
      assert.match(
        text,
        /DOWN db\.example disk down \d+s ago \/var is 97% full <b>now<\/b>/,
        "output shown as text",
      );
      assert.match(text, /DOWN db\.example queue down \d+s ago 5123 messages waiting/);
      assert.match(text, /UP 127\.0\.106\.1 web up \d+s ago 200 in 3 ms/);
      assert.match(text, /UP 127\.0\.106\.1 tcp up \d+s ago/);
      assert.ok(
        text.indexOf("DOWN db.example") < text.indexOf("UP 127.0.106.1"),
        "down checks come first",
      );
      // Single-node mode: this node alone confirms, so both failures are real incidents it notified.
      assert.match(
        text,
        /Open incidents \(2\) db\.example disk · down for \d+s notifier page-node/,
      );
      assert.match(text, /page-node FAIL \d+s ago \/var is 97% full/, "who saw what, and when");
      assert.match(
        text,
        /Silenced \(1\) SILENCED db\.example queue ends in \d+d( \d+h)? until 2126-01-01 00:00:00 UTC; file silence\.d\/db\.example\/queue on this node: queue migration \(Ann\)/,
      );
      assert.match(text, /Peers \(0\) None: nodes\.txt lists no peer/);
      assert.match(text, /Recent incidents No incidents recorded\./);
      assert.equal(await browser.evaluate("document.title"), "1 down · page-node · dmonitor");
      assert.equal(await browser.evaluate("document.scripts.length"), 0);
      assert.equal(
        await browser.evaluate("document.querySelector('meta[http-equiv=refresh]').content"),
        "5",
      );
      assert.equal(
        await browser.evaluate("document.styleSheets.length"),
        1,
        "the inline stylesheet applies",
      );
      const width = await browser.evaluate<number>("document.documentElement.scrollWidth");
      assert.ok(width <= 390, `no horizontal scrolling on a 390px phone (page is ${width}px wide)`);
      const badge = await browser.evaluate<string>(
        "getComputedStyle(document.querySelector('li[data-status=FAIL] .badge')).backgroundColor",
      );
      assert.match(badge, /^rgb\(20[0-9], 3[0-9], 4[0-9]\)$/, `down badges are red, got ${badge}`);

      const png = await browser.screenshot();
      assert.deepEqual([...png.slice(0, 4)], [0x89, 0x50, 0x4e, 0x47]);
      assert.equal(new DataView(png.buffer).getUint32(16), 390, "PNG as wide as the phone");
      assert.ok(png.length > 20_000, `a rendered page, not a blank one (${png.length} bytes)`);
      const keep = Deno.env.get("DMONITOR_KEEP_SCREENSHOT");
      if (keep) await Deno.writeFile(keep, png);
    },
  );

  await t.step("Chromium's own --dump-dom sees the same page", async () => {
    const dom = await chromium(`${BASE}/`);
    assert.match(dom, /<meta http-equiv="refresh" content="5">/);
    assert.match(visibleText(dom), /1 of 4 checks down/);
  });

  await t.step(
    "dmonitor status prints the same view and exits 2 while checks are down",
    async () => {
      const r = await dmonitor(["status", "--config", tree]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stdout, /^dmonitor page-node {2}single-node mode/);
      assert.match(r.stdout, /^1 of 4 checks down \(1 silenced\)$/m);
      assert.match(
        r.stdout,
        /^ {3}DOWN +db\.example +disk +down \d+s ago .*\/var is 97% full <b>now<\/b> \[confirmed down\]$/m,
      );
      assert.match(r.stdout, /^ {3}UP +127\.0\.106\.1 +web +up \d+s ago .* 200 in 3 ms$/m);
      const json = await dmonitor(["status", "--config", tree, "--json"]);
      assert.equal(JSON.parse(json.stdout).checks.length, 4);
    },
  );

  await t.step(
    "access: after a reload limiting it to another address, only the token opens it",
    async () => {
      await Deno.writeTextFile(join(tree, "status.token"), "page-test-token-0123456789\n", {
        mode: 0o600,
      });
      await Deno.chmod(join(tree, "status.token"), 0o600);
      // Re-read on reload by the user the node switched to (see README, Privileges).
      await giveToServerUser(join(tree, "status.token"));
      await Deno.writeTextFile(
        join(tree, "dmonitor.yaml"),
        `node: page-node\nlisten: ${ADDR}\nstate_dir: ${state}\ninterval: 1s\ntimeout: 900ms\n` +
          "status:\n  allow: [127.0.106.99]\n  token_file: status.token\n",
      );
      node.kill("SIGHUP");
      await node.waitFor(/configuration reloaded/);
      const refused = await fetch(`${BASE}/`);
      assert.equal(refused.status, 403);
      assert.match(await refused.text(), /status\.allow/);
      const metrics = await fetch(`${BASE}/metrics`);
      assert.equal(metrics.status, 403);
      await metrics.body?.cancel();
      const ok = await fetch(`${BASE}/v1/status`, {
        headers: { authorization: "Bearer page-test-token-0123456789" },
      });
      assert.equal(ok.status, 200);
      await ok.body?.cancel();
      assert.equal((await fetch(`${BASE}/healthz`)).status, 200);
      // The CLI reads the token file from the tree.
      const r = await dmonitor(["status", "--config", tree]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stdout, /1 of 4 checks down/);
    },
  );

  await t.step("dmonitor status: one clear line when the node is not running", async () => {
    node.kill("SIGTERM");
    await node.status;
    const r = await dmonitor(["status", "--config", tree]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /^dmonitor status: cannot reach the node at http:\/\/127\.0\.106\.2:2929\/v1\/status .*connection refused; is 'dmonitor run' running\?\n$/,
    );
  });
});

Deno.test("status and init: --help, and bad flags or arguments get one line and exit 64", async () => {
  for (const cmd of ["status", "init"]) {
    const h = await dmonitor([cmd, "--help"]);
    assert.equal(h.code, 0, h.stderr);
    assert.match(h.stdout, new RegExp(`^Usage: dmonitor ${cmd}`));
  }
  for (
    const args of [["status", "--bogus"], ["status", "extra"], ["status", "--url", "not a url"], [
      "init",
      "a",
      "b",
    ]]
  ) {
    const r = await dmonitor(args);
    assert.equal(r.code, 64, `${args.join(" ")}: ${r.stderr}`);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`^dmonitor ${args[0]}: `));
  }
});
