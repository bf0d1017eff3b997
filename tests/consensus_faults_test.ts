/**
 * Consensus end to end, faults: the notifier SIGKILLed, peers that hang or answer garbage, forged
 * requests, TLS. This file owns 127.0.114.0/24 (tests/util.ts); the fixture is
 * tests/consensus_util.ts.
 */
import assert from "node:assert/strict";
import { importPeerKey, signRequest } from "../lib/peers/mod.ts";
import { consensusKit } from "./consensus_util.ts";
import { dmonitor, until } from "./util.ts";

const {
  KEY,
  PORT,
  SVC,
  addr,
  HANG,
  GARBAGE,
  ABSENT,
  TLS,
  receiver,
  cluster,
  tcpCluster,
  statusOf,
  allKnowNotified,
  allClosed,
  exactlyOne,
  runsMore,
  useTls,
} = consensusKit("127.0.114");

Deno.test("the chosen notifier killed with SIGKILL during an outage: still exactly one notification", async () => {
  await using t = await tcpCluster(3);
  const { service, hook, c } = t;
  const before = c.nodes[0]!.lines.length;
  service.stop();
  // n1 is first in name order, so it is the one to notify: kill it as soon as it sees the failure.
  await until(
    "n1 to see the failure",
    () => c.nodes[0]!.lines.slice(before).some((l) => /test=tcp status=(FAIL|TIMEOUT)/.test(l)),
    { nodes: c.nodes },
  );
  c.nodes[0]!.kill("SIGKILL");
  await c.nodes[0]!.status;
  const rest = [c.nodes[1]!, c.nodes[2]!];
  await until("a hand-over notification", () => hook.kinds("down").length >= 1, {
    ms: 40_000,
    nodes: rest,
  });
  await allKnowNotified(c, [1, 2]);
  exactlyOne(hook, c, "down", rest);
  assert.notEqual(hook.kinds("down")[0]!.notifier, "n1");
  service.start();
  await until("the recovery notification", () => hook.kinds("recovered").length >= 1, {
    ms: 40_000,
    nodes: rest,
  });
  const id = hook.kinds("down")[0]!.incident_id;
  await allClosed(c, [1, 2], id);
  exactlyOne(hook, c, "recovered", rest);
});

Deno.test("peers that hang, answer garbage or are down: checks and verdicts still happen on time", async () => {
  // HANG accepts and never answers; GARBAGE answers garbage; ABSENT is not there.
  const hang = Deno.listen({ hostname: HANG, port: PORT });
  const held: Deno.Conn[] = [];
  (async () => {
    for await (const conn of hang) held.push(conn);
  })().catch(() => {});
  const garbage = Deno.serve(
    { hostname: GARBAGE, port: PORT, onListen: () => {} },
    () => new Response("\x00\xffnot json"),
  );
  await using hook = receiver();
  try {
    await using c = await cluster(1, hook.url, () => ({
      [`hosts.d/${SVC}/svc`]: "",
      "plugins/check_svc": "#!/bin/sh\necho FAIL always\n",
    }), { nodesTxt: () => `${HANG}:${PORT}\n${GARBAGE}:${PORT}\n${ABSENT}:${PORT}\n` });
    await until(
      "a verdict",
      async () => (await statusOf(0)).checks.some((x) => x.phase === "unconfirmed"),
      { ms: 10_000, nodes: c.nodes },
    );
    // The check keeps its 1 s interval although every peer hangs or fails (a confirm round's
    // deadline is 2.9 s): four more runs, at most 2.5 s apart on average.
    const runs = await runsMore(0, "svc", 4, c);
    const spacing = (runs.at(-1)! - runs[0]!) / (runs.length - 1);
    assert.ok(spacing < 2500, `runs ${spacing} ms apart: ${runs.join(", ")}`);
    assert.equal(hook.got.length, 0, "unreachable peers never count as failures");
  } finally {
    hang.close();
    for (const h of held) h.close();
    await garbage.shutdown();
  }
});

Deno.test("forged, unsigned, replayed and stale requests to a running node are rejected", async () => {
  await using hook = receiver();
  await using c = await cluster(3, hook.url, () => ({ [`hosts.d/${SVC}/ping`]: "" }));
  const url = `http://${addr(0)}:${PORT}/v1/confirm`;
  const body = new TextEncoder().encode(JSON.stringify({ host: SVC, test: "ping" }));
  const key = await importPeerKey(KEY);
  const send = (headers: Record<string, string>, to = url) =>
    fetch(to, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body,
    });
  const signed = (now: number, nonce: string, k = key, node = "n2") =>
    signRequest(k, { method: "POST", path: "/v1/confirm", node, to: "n1", body, now, nonce });

  const unsigned = await send({});
  assert.equal(unsigned.status, 401);
  assert.equal(await unsigned.text(), await (await send({})).text(), "learns nothing");

  const forged = await send(
    await signed(
      Date.now(),
      "nonce-forged-0000001",
      await importPeerKey("not-the-key-0123456789abcdef0123456"),
    ),
  );
  assert.equal(forged.status, 401);
  await forged.body?.cancel();

  const good = await signed(Date.now(), "nonce-replay-0000001");
  const first = await send(good);
  assert.equal(first.status, 200, await first.text());
  const replay = await send(good);
  assert.equal(replay.status, 401);
  await replay.body?.cancel();
  // The same request n1 accepted, replayed to n3 (which knows n2 and has not seen the nonce).
  const elsewhere = await send(good, `http://${addr(2)}:${PORT}/v1/confirm`);
  assert.equal(elsewhere.status, 401);
  await elsewhere.body?.cancel();
  await c.nodes[2]!.waitFor(/rejected peer request reason=misdirected/);
  // A key holder under a name nodes.txt does not list.
  const stranger = await send(await signed(Date.now(), "nonce-stranger-00001", key, "tester"));
  assert.equal(stranger.status, 401);
  await stranger.body?.cancel();
  await c.nodes[0]!.waitFor(/rejected peer request reason=unknown-sender/);

  const stale = await send(await signed(Date.now() - 10 * 60_000, "nonce-stale-00000001"));
  assert.equal(stale.status, 401);
  await stale.body?.cancel();
  assert.ok(c.nodes[0]!.lines.some((l) => /401|rejected|refus/i.test(l)), "rejections are logged");
});

Deno.test("peers over TLS (testdata CA): the outage is confirmed and notified once; plain http is refused", async () => {
  const yaml =
    `peer:\n  tls_cert: ${TLS}/e2e.crt\n  tls_key: ${TLS}/e2e.key\n  ca: ${TLS}/ca.crt\n`;
  await using t = await tcpCluster(2, { yaml });
  const { service, hook, c } = t;
  assert.ok(c.nodes[0]!.lines.some((l) => /node started .*tls=true/.test(l)));
  await assert.rejects(fetch(`http://${addr(0)}:${PORT}/healthz`), "the endpoint speaks TLS only");
  using client = Deno.createHttpClient({ caCerts: [await Deno.readTextFile(`${TLS}/ca.crt`)] });
  const health = await fetch(`https://${addr(0)}:${PORT}/healthz`, { client });
  assert.equal(await health.text(), "ok");
  const status = await dmonitor(["status", "--config", c.trees[0]!]);
  assert.equal(status.code, 0, status.stderr);
  assert.match(status.stdout, /^dmonitor n1 /, "dmonitor status reaches a TLS node over https");
  service.stop();
  await until("the down notification", () => hook.kinds("down").length >= 1, { nodes: c.nodes });
  useTls(client);
  try {
    await allKnowNotified(c, [0, 1]);
  } finally {
    useTls(null);
  }
  exactlyOne(hook, c, "down");
  assert.equal(hook.kinds("down")[0]!.confirmed_by, 2, "both nodes' votes arrived over TLS");
});
