/**
 * The peer/status port under abuse, with a real node under `ulimit -n 1024`: 1,000 idle TCP
 * connections (from 20 source addresses) and 500 slowloris connections (one header byte every 5 s,
 * from one address) must not stop it: `/healthz` and signed peer requests answer during and after,
 * the idle and slow connections are closed by the header deadline, and checks keep running.
 */
import assert from "node:assert/strict";
import net from "node:net";
import { importPeerKey, randomNonce, signRequest } from "../lib/peers/mod.ts";
import { NodeProcess, writeTree } from "./util.ts";

const ADDR = "127.0.30.2";
const PORT = 2929;
const KEY = "listener-abuse-key-0123456789abcdef0123";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A raw TCP connection from `from`; records when the node closed it. */
function open(from: string): Promise<{ sock: net.Socket; closedAt: () => number | null }> {
  return new Promise((resolve, reject) => {
    let closedAt: number | null = null;
    const sock = net.connect({ host: ADDR, port: PORT, localAddress: from });
    sock.on("close", () => closedAt ??= Date.now());
    sock.on("error", () => closedAt ??= Date.now());
    sock.once("connect", () => resolve({ sock, closedAt: () => closedAt }));
    sock.once("error", reject);
  });
}

async function healthz(): Promise<number> {
  const r = await fetch(`http://${ADDR}:${PORT}/healthz`, { signal: AbortSignal.timeout(10_000) });
  await r.body?.cancel();
  return r.status;
}

async function signedState(): Promise<number> {
  const key = await importPeerKey(KEY);
  const headers = await signRequest(key, {
    method: "GET",
    path: "/v1/state",
    node: "peer-x",
    to: "lone",
    body: new Uint8Array(),
    now: Date.now(),
    nonce: randomNonce(),
  });
  const r = await fetch(`http://${ADDR}:${PORT}/v1/state`, {
    headers,
    signal: AbortSignal.timeout(10_000),
  });
  await r.body?.cancel();
  return r.status;
}

async function runs(): Promise<number> {
  const r = await fetch(`http://${ADDR}:${PORT}/metrics`, { signal: AbortSignal.timeout(10_000) });
  const m = /^dmonitor_check_runs_total\{status="OK",state="OK"\} (\d+)$/m.exec(await r.text());
  return Number(m?.[1] ?? 0);
}

async function until(what: string, ok: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

Deno.test({
  name: "1,000 idle and 500 slowloris connections under ulimit -n 1024 do not stop the node",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const state = await Deno.makeTempDir({ prefix: "dmonitor-state-" });
    const tree = await writeTree({
      "dmonitor.yaml": `node: lone\nlisten: ${ADDR}:${PORT}\nstate_dir: ${state}\n` +
        "interval: 1s\ntimeout: 900ms\n",
      "nodes.txt": "127.0.30.3:2929 peer-x\n",
      "peer.key": KEY,
      "hosts.d/127.0.0.1/up": "",
      "plugins/check_up": "#!/bin/sh\necho OK fine\n",
    });
    await using node = new NodeProcess(["--config", tree], { DMONITOR_LOG_LEVEL: "info" }, {
      nofile: 1024,
    });
    let exited = false;
    node.status.then(() => exited = true);
    await node.waitFor(/node started/);
    await node.waitFor(/test=up status=OK/);
    const t0 = Date.now();
    const runs0 = await runs();

    const idle: Awaited<ReturnType<typeof open>>[] = [];
    for (let a = 0; a < 20; a++) {
      const from = `127.0.30.${10 + a}`;
      idle.push(...await Promise.all(Array.from({ length: 50 }, () => open(from))));
    }
    const slow = await Promise.all(Array.from({ length: 500 }, () => open("127.0.30.30")));
    const request = "GET /v1/status HTTP/1.1\r\nHost: x\r\nX-Slow: " + "a".repeat(64);
    let sent = 0;
    const drip = setInterval(() => {
      const byte = request[sent++ % request.length]!;
      for (const s of slow) if (s.closedAt() === null) s.sock.write(byte);
    }, 5_000);
    try {
      // During the attack: liveness and a signed peer request answer.
      assert.equal(await healthz(), 200);
      assert.equal(await signedState(), 200);
      await until(
        "the idle connections to be closed",
        () => idle.every((c) => c.closedAt()),
        30_000,
      );
      await until(
        "the slowloris connections to be closed",
        () => slow.every((c) => c.closedAt()),
        30_000,
      );
    } finally {
      clearInterval(drip);
      for (const c of [...idle, ...slow]) c.sock.destroy();
    }
    assert.equal(exited, false, `the node exited:\n${node.lines.join("\n")}`);
    // After: still serving, and the checks kept their 1 s schedule (half of it, on a loaded box).
    assert.equal(await healthz(), 200);
    assert.equal(await signedState(), 200);
    const elapsed = (Date.now() - t0) / 1000;
    const done = (await runs()) - runs0;
    assert.ok(
      done >= Math.floor(elapsed / 2),
      `only ${done} check runs in ${elapsed.toFixed(1)} s at interval 1s`,
    );
    const log = node.lines.join("\n");
    assert.doesNotMatch(log, /Too many open files|Uncaught/);
    const refusals = node.lines.filter((l) => /connection/.test(l) && /WARN|ERROR/.test(l));
    assert.ok(refusals.length < 50, `${refusals.length} log lines about connections`);
  },
});
