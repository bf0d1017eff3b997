/**
 * The peer client against real sockets on 127.0.0.1: one real endpoint, plus raw TCP listeners
 * that hang, dribble, answer garbage or too much, and a closed port.
 */
import assert from "node:assert/strict";
import type { Peer } from "../config/types.ts";
import { announceToPeers, askPeers } from "./client.ts";
import { startPeerServer } from "./server.ts";
import { KEY, testApp } from "./testing.ts";

const enc = new TextEncoder();

function peerAt(port: number, raw = `127.0.0.1:${port}`): Peer {
  return { host: "127.0.0.1", port, raw, line: 1, name: "node-b" };
}

/** A raw TCP listener on 127.0.0.1 port 0 that treats every connection with `serve`. */
function rawPeer(serve: (conn: Deno.Conn) => Promise<void>) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  const tasks: Promise<void>[] = [];
  const loop = (async () => {
    for await (const conn of listener) {
      conns.add(conn);
      tasks.push(serve(conn).catch(() => {}));
    }
  })().catch(() => {});
  return {
    peer: peerAt(listener.addr.port),
    async [Symbol.asyncDispose]() {
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch { /* already closed */ }
      }
      await loop;
      await Promise.all(tasks);
    },
  };
}

/** Reads until the end of the request headers (enough to answer). */
async function readRequest(conn: Deno.Conn): Promise<void> {
  const buf = new Uint8Array(65536);
  let text = "";
  while (!text.includes("\r\n\r\n")) {
    const n = await conn.read(buf);
    if (n === null) return;
    text += new TextDecoder().decode(buf.subarray(0, n));
  }
}

function closedPort(): Peer {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = l.addr.port;
  l.close();
  return peerAt(port);
}

const hang = async (conn: Deno.Conn) => {
  await readRequest(conn);
  await conn.read(new Uint8Array(1)); // until the client gives up
};
const garbage = async (conn: Deno.Conn) => {
  await readRequest(conn);
  await conn.write(crypto.getRandomValues(new Uint8Array(512)));
  conn.close();
};
const unsignedJson = async (conn: Deno.Conn) => {
  await readRequest(conn);
  const body = JSON.stringify({ node: "evil", status: "FAIL", output: "", at: 1, incident: null });
  await conn.write(
    enc.encode(
      `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`,
    ),
  );
  conn.close();
};
const dribble = async (conn: Deno.Conn) => {
  await readRequest(conn);
  await conn.write(
    enc.encode(
      "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n",
    ),
  );
  for (let i = 0; i < 100; i++) {
    await conn.write(enc.encode("{"));
    await new Promise((r) => setTimeout(r, 50));
  }
};
const huge = async (conn: Deno.Conn) => {
  await readRequest(conn);
  await conn.write(
    enc.encode(
      "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 10000000\r\n\r\n",
    ),
  );
  const chunk = new Uint8Array(65536).fill(32);
  for (let i = 0; i < 160; i++) await conn.write(chunk);
};

Deno.test("askPeers: hanging, garbage, unsigned, dribbling, huge and down peers cannot delay the verdict", async () => {
  const { app } = testApp({ clock: Date.now });
  await using good = startPeerServer({ hostname: "127.0.0.1", port: 0, app });
  await using hanging = rawPeer(hang);
  await using junk = rawPeer(garbage);
  await using forger = rawPeer(unsignedJson);
  await using slow = rawPeer(dribble);
  await using big = rawPeer(huge);
  const peers = [
    peerAt(good.addr.port, "good:2929"),
    hanging.peer,
    junk.peer,
    forger.peer,
    slow.peer,
    big.peer,
    closedPort(),
  ];
  const deadlineMs = 400;
  const t0 = performance.now();
  const answers = await askPeers(peers, { host: "www", test: "http" }, {
    key: KEY,
    nodeName: "node-a",
    deadlineMs,
  });
  const took = performance.now() - t0;
  assert.ok(took < deadlineMs + 300, `took ${took} ms`);
  assert.equal(answers.length, peers.length);
  assert.deepEqual(
    { peer: answers[0]!.peer, node: answers[0]!.node, status: answers[0]!.vote.status },
    { peer: "good:2929", node: "node-b", status: "FAIL" },
  );
  for (const a of answers.slice(1)) {
    assert.equal(a.vote.status, "UNREACHABLE", `${a.peer}: ${a.error}`);
    assert.equal(a.node, null);
    assert.equal(a.vote.node, a.peer);
    assert.ok(a.error && a.error.length > 0);
  }
  assert.match(answers[1]!.error!, /no answer within 400 ms/);
  assert.match(answers[3]!.error!, /not signed with our peer.key/);
  assert.match(answers[5]!.error!, /larger than 65536 bytes/);
});

Deno.test("askPeers: a peer with another key (it answers 401) is unreachable, and a view round works", async () => {
  const { app } = testApp({ clock: Date.now });
  await using server = startPeerServer({ hostname: "127.0.0.1", port: 0, app });
  const peers = [peerAt(server.addr.port)];
  const [wrong] = await askPeers(peers, { host: "www", test: "http" }, {
    key: "not-the-same-key-at-all",
    nodeName: "node-a",
    deadlineMs: 1000,
  });
  assert.equal(wrong!.vote.status, "UNREACHABLE");
  assert.match(wrong!.error!, /answered HTTP 401/);
  const [view] = await askPeers(peers, { host: "www", test: "http" }, {
    key: KEY,
    nodeName: "node-a",
    deadlineMs: 1000,
  }, "view");
  assert.equal(view!.vote.status, "FAIL");
});

Deno.test("announceToPeers: reports the peers it could not reach, delivers to the others", async () => {
  const { app, heard } = testApp({ clock: Date.now });
  await using server = startPeerServer({ hostname: "127.0.0.1", port: 0, app });
  const view = {
    host: "www",
    test: "http",
    phase: "down" as const,
    claim: null,
    incident: null,
    closed: null,
  };
  const down = closedPort();
  const failed = await announceToPeers([peerAt(server.addr.port), down], view, {
    key: KEY,
    nodeName: "node-a",
    deadlineMs: 1000,
  });
  assert.deepEqual(failed.map((f) => f.peer), [down.raw]);
  assert.deepEqual(heard.map((h) => h.from), ["node-a"]);
});
