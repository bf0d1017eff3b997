/**
 * Isolated networks with real `dmonitor run` processes on both sides: a site node that hosts its
 * own Tentacle server (mutual TLS) and spools into it, and a central node whose sync puller drains
 * it and alerts through its own webhook, once.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { ROOT, startNode, until, writeTree } from "./util.ts";
import { giveToServerUser } from "../lib/privilege/testing.ts";

const TLS = join(ROOT, "testdata/tls");

Deno.test("a site's outage reaches the central node's webhook exactly once, marked with the site", async () => {
  const got: { kind: string; host: string; test: string; site: string | null; id: string }[] = [];
  await using hook = Deno.serve(
    { hostname: "127.0.111.1", port: 0, onListen: () => {} },
    async (req) => {
      got.push(await req.json());
      return new Response("ok");
    },
  );
  const siteState = await Deno.makeTempDir();
  const site = await writeTree({
    "dmonitor.yaml":
      `node: site-a\nlisten: 127.0.111.2:2929\nstate_dir: ${siteState}\ninterval: 1s\ntimeout: 900ms\n` +
      `tentacle:\n  directory: ${siteState}/outbox\n  addresses: 127.0.111.2\n  port: 41131\n  insecure: 1\n` +
      `  ssl_cert: ${TLS}/e2e.crt\n  ssl_key: ${TLS}/e2e.key\n  ssl_ca: ${TLS}/ca.crt\n` +
      `spool:\n  directory: ${siteState}/outbox\n  write_interval: 1s\n`,
    "hosts.d/127.0.111.1/svc": "",
    "plugins/check_svc": "#!/bin/sh\necho FAIL service down at the site\n",
  });
  await Deno.mkdir(join(siteState, "outbox"));
  await giveToServerUser(siteState); // the node started as root switches to dmonitor or nobody
  const centralState = await Deno.makeTempDir();
  const central = await writeTree({
    "dmonitor.yaml": `node: central\nlisten: 127.0.111.3:2929\nstate_dir: ${centralState}\n` +
      `sync:\n  sync_ca: ${TLS}/ca.crt\n` +
      `  sync_cert: ${TLS}/client.crt\n  sync_key: ${TLS}/client.key\n  interval: 2s\n  sites:\n    site-a: 127.0.111.2:41131\n`,
    "alert.d/central.webhook": `http://127.0.111.1:${hook.addr.port}/hook\n`,
  });
  await using siteNode = await startNode(["--config", site], {
    env: { DMONITOR_LOG_LEVEL: "info" },
  });
  await using centralNode = await startNode(["--config", central], {
    env: { DMONITOR_LOG_LEVEL: "info" },
  });
  const sites = async () => {
    const r = await fetch("http://127.0.111.3:2929/v1/status");
    return (await r.json() as { sites: { name: string; lastPull: number | null; files: number }[] })
      .sites.find((x) => x.name === "site-a");
  };
  const nodes = [siteNode, centralNode];
  await until("the down notification", () => got.some((n) => n.kind === "down"), { nodes });
  // No duplicate may follow: the central node pulls and processes more of the site's data files
  // (every one of them still carries the failing check), then one check.
  const filesAtDown = (await sites())?.files ?? 0;
  await until(
    "two more data files pulled",
    async () => ((await sites())?.files ?? 0) >= filesAtDown + 2,
    {
      nodes,
    },
  );
  const downs = got.filter((n) => n.kind === "down");
  assert.equal(downs.length, 1, JSON.stringify(got) + "\n" + centralNode.lines.join("\n"));
  assert.equal(downs[0]!.host, "127.0.111.1");
  assert.equal(downs[0]!.test, "svc");
  assert.equal(downs[0]!.site, "site-a");
  const s = await sites();
  assert.ok(s && s.lastPull !== null && s.files > 0, JSON.stringify(s));
});
