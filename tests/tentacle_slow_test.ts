// Slow clients against `tentacle-server` as its own process with the default limits (-c 10,
// -t 1 -r 3): ten clients trickling one byte a second (five inside a command line, five inside a
// SEND body) take every slot, and a valid client must still get its file stored once their
// deadlines pass, long before they would have finished trickling; each trickler is cut and logged.
import { giveToServerUser } from "../lib/privilege/testing.ts";
import assert from "node:assert/strict";
import { TentacleClient } from "../lib/tentacle/client.ts";
import { isBusyReply } from "../lib/tentacle/protocol.ts";
import { ls, tempDir, text } from "../lib/tentacle/testing.ts";
import { ProtocolError } from "../lib/errors/mod.ts";

const ENTRY = new URL("../lib/tentacle/server_main.ts", import.meta.url).pathname;
const HOST = "127.0.20.1";
const enc = new TextEncoder();

function freePort(): number {
  const l = Deno.listen({ hostname: HOST, port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** Collects a child's stderr lines. */
function collect(stream: ReadableStream<Uint8Array>, into: string[]): Promise<void> {
  return (async () => {
    let rest = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      rest += chunk;
      const parts = rest.split("\n");
      rest = parts.pop()!;
      into.push(...parts);
    }
  })();
}

/**
 * A client that writes `head` at once, then `body` one byte a second until the server drops it;
 * `closed` resolves with the time it noticed.
 */
function trickler(port: number, head: string, body: string) {
  let stop = false;
  const conn = Deno.connect({ hostname: HOST, port });
  const closed = (async () => {
    const c = await conn;
    const buf = new Uint8Array(256);
    const writer = (async () => {
      try {
        if (head) await c.write(enc.encode(head));
        for (const ch of body) {
          if (stop) return;
          await new Promise((r) => setTimeout(r, 1000));
          await c.write(enc.encode(ch));
        }
      } catch { /* dropped by the server */ }
    })();
    let got = "";
    try {
      for (;;) {
        const n = await c.read(buf);
        if (n === null) break;
        got += new TextDecoder().decode(buf.subarray(0, n));
      }
    } catch { /* reset */ }
    stop = true;
    const at = Date.now();
    await writer;
    try {
      c.close();
    } catch { /* closed */ }
    return { at, got };
  })();
  return { closed, stop: () => (stop = true) };
}

Deno.test({
  name: "slow clients: 10 tricklers on -c 10 are cut by their deadlines and a valid SEND succeeds",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await using d = await tempDir();
    await giveToServerUser(d.path); // started as root, the server runs as dmonitor or nobody
    const port = freePort();
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", ENTRY, "-s", d.path, "-a", HOST, "-p", String(port)],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const logs: string[] = [];
    const logging = collect(child.stderr, logs);
    const tricklers: ReturnType<typeof trickler>[] = [];
    try {
      for (let i = 0; i < 100; i++) {
        const c = await TentacleClient.connect({ host: HOST, port, probe: false }).catch(() =>
          null
        );
        if (c) {
          await c.quit();
          break;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      await new Promise((r) => setTimeout(r, 500)); // that session's slot is free again
      // Trickling all of it would take a minute (lines) or 17 minutes (bodies).
      const t0 = Date.now();
      for (let i = 0; i < 5; i++) {
        tricklers.push(trickler(port, "", `SEND <line${i}-${"x".repeat(40)}.data> SIZE 1000\n`));
      }
      for (let i = 0; i < 5; i++) {
        tricklers.push(trickler(port, `SEND <body${i}.data> SIZE 1000\n`, "y".repeat(1000)));
      }
      await new Promise((r) => setTimeout(r, 300)); // let them take their slots
      let busy = 0;
      let stored = false;
      // Generous bound (the machine is shared): the deadlines are 4 s, trickling lasts minutes.
      while (!stored && Date.now() - t0 < 40_000) {
        try {
          const c = await TentacleClient.connect({ host: HOST, port, probe: false });
          try {
            await c.send("valid.data", text("<agent_data/>"));
            stored = true;
          } finally {
            await c.quit();
          }
        } catch (e) {
          if (!(e instanceof ProtocolError && isBusyReply(e.reply ?? ""))) throw e;
          busy++;
          await new Promise((r) => setTimeout(r, 250));
        }
      }
      const servedAfter = Date.now() - t0;
      console.log(`valid SEND stored after ${servedAfter} ms (${busy} busy answers before)`);
      assert.ok(stored, "the valid client's SEND succeeded while the tricklers trickled");
      assert.equal(await Deno.readTextFile(`${d.path}/valid.data`), "<agent_data/>");
      // Every trickler was dropped, long before it could have finished.
      const ends = await Promise.race([
        Promise.all(tricklers.map((t) => t.closed)),
        new Promise<null>((r) => setTimeout(() => r(null), 30_000)),
      ]);
      assert.ok(ends, "every trickler was disconnected");
      for (const [i, e] of ends.entries()) {
        assert.ok(e.at - t0 < 50_000, `trickler ${i} cut after ${e.at - t0} ms`);
        // Body tricklers had their SEND OK, and nothing more; line tricklers got nothing at all.
        assert.equal(e.got, i < 5 ? "" : "SEND OK\n", `trickler ${i}`);
      }
      assert.deepEqual(await ls(d.path), ["valid.data"], "no partial upload is left");
      for (let i = 0; i < 50 && logs.filter((l) => /slow client/.test(l)).length < 10; i++) {
        await new Promise((r) => setTimeout(r, 100));
      }
      const cut = logs.filter((l) => /slow client disconnected/.test(l));
      assert.equal(cut.length, 10, logs.join("\n"));
      assert.equal(cut.filter((l) => /command line not done within 4000 ms/.test(l)).length, 5);
      assert.equal(cut.filter((l) => /receiving 1000 bytes not done within/.test(l)).length, 5);
    } finally {
      for (const t of tricklers) t.stop();
      child.kill("SIGTERM");
      await child.status;
      await logging.catch(() => {});
    }
  },
});
