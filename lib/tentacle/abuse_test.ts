// Hostile and clumsy clients over real sockets: long lines, garbage, early EOF, stalls,
// pipelining, names that try to escape or execute, and races between two MVs.
import assert from "node:assert/strict";
import { TentacleClient } from "./client.ts";
import { ls, Raw, sha256, startTestServer, tempDir, text } from "./testing.ts";

const dec = new TextDecoder();

Deno.test("over-long lines close the connection, with or without a newline", async () => {
  await using s = await startTestServer();
  for (
    const payload of ["x".repeat(2000), `SEND <${"a".repeat(1100)}> SIZE 1\n`, "y".repeat(100_000)]
  ) {
    using c = await Raw.open(s.port);
    await c.write(payload).catch(() => {}); // the server may reset while we still write
    assert.ok(await c.closedSilently(), `${payload.length} bytes`);
  }
  assert.deepEqual(await ls(s.dir), []);
  assert.ok(s.logs.some((l) => l.includes("line longer than 1024 bytes")));
});

Deno.test("garbage and binary noise close the connection", async () => {
  await using s = await startTestServer();
  using c = await Raw.open(s.port);
  await c.write(crypto.getRandomValues(new Uint8Array(512)).map((b) => (b === 10 ? 11 : b)));
  await c.write("\n");
  assert.ok(await c.closedSilently());
});

Deno.test("early EOF inside a body: nothing partial becomes visible", async () => {
  await using s = await startTestServer();
  using c = await Raw.open(s.port);
  await c.write("SEND <cut.data> SIZE 100\n");
  assert.equal(await c.line(), "SEND OK");
  await c.write("only forty bytes ......................");
  await c.conn.closeWrite();
  assert.ok(await c.closedSilently());
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(await ls(s.dir), []); // no cut.data, no temporary file either
});

Deno.test("a client stalling mid-body times out; LS never shows the partial file", async () => {
  await using s = await startTestServer({ idleTimeoutMs: 400, insecure: true });
  using stalled = await Raw.open(s.port);
  await stalled.write("SEND <slow.data> SIZE 10\n");
  assert.equal(await stalled.line(), "SEND OK");
  await stalled.write("12345");
  await new Promise((r) => setTimeout(r, 100));
  const entries = await ls(s.dir);
  assert.equal(entries.length, 1);
  assert.match(entries[0]!, /^\.dmonitor\.tmp\./); // it is being written, hidden
  const client = await TentacleClient.connect({ port: s.port });
  assert.deepEqual(await client.ls(), []);
  await assert.rejects(client.recv("slow.data", `${s.dir}/../never`), /does not exist/);
  await client.quit();
  // Cut by the idle timeout (400 ms), well inside the 2 s this waits; no wall-clock assertion.
  assert.ok(await stalled.closedSilently(2000));
  assert.deepEqual(await ls(s.dir), []);
  // The session logs why it ended just after the socket closes: give that line a moment.
  // Either deadline may cut it first: the idle timeout, or the transfer's own (idle + size/rate).
  const cut = (l: string) => l.includes("timed out") || l.includes("slow client disconnected");
  for (let i = 0; i < 50 && !s.logs.some(cut); i++) {
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.ok(s.logs.some(cut), s.logs.join("\n"));
});

Deno.test("a client that never reads: writes time out instead of piling up", async () => {
  await using s = await startTestServer({ idleTimeoutMs: 300 });
  await Deno.writeFile(`${s.dir}/big.data`, new Uint8Array(32 * 1024 * 1024));
  using c = await Raw.open(s.port);
  await c.write("RECV <big.data>\nRECV OK\n");
  await new Promise((r) => setTimeout(r, 1500)); // we never read; the server must give up
  assert.ok(s.server.activeSessions === 0);
  assert.ok(s.logs.some((l) => l.includes("waiting to write")));
});

Deno.test("pipelined input: commands and bodies in one write are all served", async () => {
  await using s = await startTestServer({ insecure: true });
  using c = await Raw.open(s.port);
  await c.write(
    "SEND <a.data> SIZE 3\nabcSEND <b.data> SIZE 2\nxyRECV <a.data>\nRECV OK\nLS <>\nLS OK\nQUIT\n",
  );
  const all = await c.rest();
  assert.equal(
    all,
    "SEND OK\nSEND OK\nSEND OK\nSEND OK\nRECV SIZE 3\nabcLS SIZE 19\n.\n..\na.data\nb.data\n",
  );
  assert.equal(await Deno.readTextFile(`${s.dir}/b.data`), "xy");
});

Deno.test("names that try to escape or execute never do", async () => {
  await using s = await startTestServer();
  await using outside = await tempDir();
  using c = await Raw.open(s.port);
  const refused = [
    "../escape",
    `..${"/.."}/tmp/x`,
    "/etc/passwd",
    "..",
    ".",
    "",
    "touch x |",
    " lead",
    "trail ",
    "a\tb",
    `${outside.path}/abs`,
    ".dmonitor.tmp.fake",
  ];
  for (const name of refused) {
    await c.write(`SEND <${name}> SIZE 1\n`);
    assert.equal(await c.line(), "SEND ERR (invalid file name)", JSON.stringify(name));
  }
  // Shell syntax is just bytes of a file name: stored literally, never run.
  const marker = `${outside.path}/pwned`;
  for (const name of [`$(touch ${marker.replaceAll("/", "_")})`, "`id`", "|x", "a;b"]) {
    await c.write(`SEND <${name}> SIZE 1\n`);
    const reply = await c.line();
    if (name.includes(";")) {
      assert.equal(reply, "SEND ERR (invalid file name)");
      continue;
    }
    assert.equal(reply, "SEND OK", name);
    await c.write("!");
    assert.equal(await c.line(), "SEND OK");
  }
  assert.deepEqual(await ls(outside.path), []);
  assert.ok((await ls(s.dir)).includes("`id`"));
});

Deno.test("two MVs of one file at once: exactly one delivers it", async () => {
  await using s = await startTestServer({ insecure: true });
  for (let round = 0; round < 20; round++) {
    await Deno.writeFile(`${s.dir}/race.data`, text(`round ${round}`));
    using a = await Raw.open(s.port);
    using b = await Raw.open(s.port);
    await Promise.all([a.write("MV <race.data>\n"), b.write("MV <race.data>\n")]);
    const replies = await Promise.all([a.line(), b.line()]);
    const winners = replies.filter((r) => r?.startsWith("MV SIZE"));
    assert.equal(winners.length, 1, JSON.stringify(replies));
    assert.ok(replies.includes("MV ERR"));
    const winner = replies[0]!.startsWith("MV SIZE") ? a : b;
    await winner.write("MV OK\n");
    assert.equal(
      dec.decode(await winner.bytes(Number(winners[0]!.split(" ")[2]))),
      `round ${round}`,
    );
    await winner.write("MV <race.data>\n");
    assert.equal(await winner.line(), "MV ERR");
  }
});

Deno.test("a safe move in progress blocks a second MV, and an overwrite waits for it", async () => {
  await using s = await startTestServer({ insecure: true, overwrite: true });
  await Deno.writeTextFile(`${s.dir}/f.data`, "first");
  using mover = await Raw.open(s.port);
  using other = await Raw.open(s.port);
  using sender = await Raw.open(s.port);
  await mover.write("SMV <f.data>\n");
  assert.equal(await mover.line(), "SMV SIZE 5");
  assert.equal(dec.decode(await mover.bytes(5)), "first");
  await other.write("MV <f.data>\n");
  assert.equal(await other.line(), "MV ERR");
  // A SEND replacing the file while it is being moved: its rename waits for the move to finish,
  // so the move's delete cannot remove the new file.
  await sender.write("SEND <f.data> SIZE 6\n");
  assert.equal(await sender.line(), "SEND OK");
  await sender.write("second");
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(await Deno.readTextFile(`${s.dir}/f.data`), "first");
  const sha = await sha256(text("first"));
  await mover.write(`SMV DONE <f.data> SIZE 5 SHA256 ${sha}\n`);
  assert.equal(await mover.line(), "SMV DELETED");
  assert.equal(await sender.line(), "SEND OK");
  assert.equal(await Deno.readTextFile(`${s.dir}/f.data`), "second");
});
