// Socket tests of every command and every reply, byte for byte, over a raw loopback connection.
import assert from "node:assert/strict";
import { passwordDigest } from "./password.ts";
import { ls, Raw, sha256, startTestServer, tempDir, text } from "./testing.ts";
import { readZipMember, writeZip } from "./zip.ts";

const dec = new TextDecoder();

async function zipOf(content: Uint8Array, name: string): Promise<Uint8Array> {
  await using d = await tempDir();
  await Deno.writeFile(`${d.path}/in`, content);
  await writeZip(`${d.path}/in`, `${d.path}/z`, name);
  return await Deno.readFile(`${d.path}/z`);
}

Deno.test("SEND: OK, body, OK; QUIT closes without a reply", async () => {
  await using s = await startTestServer();
  using c = await Raw.open(s.port);
  await c.write("SEND <a.data> SIZE 5\n");
  assert.equal(await c.line(), "SEND OK");
  await c.write("hello");
  assert.equal(await c.line(), "SEND OK");
  assert.equal(await Deno.readTextFile(`${s.dir}/a.data`), "hello");
  await c.write("QUIT\n");
  assert.ok(await c.closedSilently());
  assert.deepEqual(await ls(s.dir), ["a.data"]);
});

Deno.test("SEND: every refusal, and the session goes on after each", async () => {
  await using s = await startTestServer({ maxSize: 10 });
  await Deno.writeTextFile(`${s.dir}/dup.data`, "old");
  await Deno.mkdir(`${s.dir}/adir`);
  using c = await Raw.open(s.port);
  const table: [string, string][] = [
    ["SEND <../x> SIZE 1", "SEND ERR (invalid file name)"],
    ["SEND <x|> SIZE 1", "SEND ERR (invalid file name)"],
    ["SEND <.dmonitor-tentacle> SIZE 1", "SEND ERR (invalid file name)"],
    ["SEND <x> SIZE 0", "SEND ERR (file is too big)"],
    ["SEND <x> SIZE 11", "SEND ERR (file is too big)"],
    ["SEND <x> SIZE 99999999999999999999999", "SEND ERR (file is too big)"],
    ["SEND <dup.data> SIZE 1", "SEND ERR (file already exists)"],
    ["SEND <adir> SIZE 1", "SEND ERR (file already exists)"],
  ];
  for (const [cmd, want] of table) {
    await c.write(cmd + "\n");
    assert.equal(await c.line(), want, cmd);
  }
  await c.write("SEND <x> SIZE 10\n");
  assert.equal(await c.line(), "SEND OK");
  await c.write("0123456789");
  assert.equal(await c.line(), "SEND OK");
  assert.equal(await Deno.readTextFile(`${s.dir}/dup.data`), "old");
});

Deno.test("SEND with overwrite (-o) replaces the file", async () => {
  await using s = await startTestServer({ overwrite: true });
  await Deno.writeTextFile(`${s.dir}/dup.data`, "old");
  using c = await Raw.open(s.port);
  await c.write("SEND <dup.data> SIZE 3\n");
  assert.equal(await c.line(), "SEND OK");
  await c.write("new");
  assert.equal(await c.line(), "SEND OK");
  assert.equal(await Deno.readTextFile(`${s.dir}/dup.data`), "new");
});

Deno.test("SEND: the go-ahead comes first; a temporary file that cannot be made ends the session", async () => {
  await using s = await startTestServer({ filters: ".*\\.conf:conf", overwrite: true });
  // The filter directory became a regular file: creating conf/.dmonitor.tmp.* fails (ENOTDIR).
  await Deno.remove(`${s.dir}/conf`);
  await Deno.writeTextFile(`${s.dir}/conf`, "not a directory");
  using c = await Raw.open(s.port);
  await c.write("SEND <x.conf> SIZE 5\n");
  assert.equal(await c.line(), "SEND OK"); // as the reference, which opens its file later
  await c.write("hello");
  assert.ok(await c.closedSilently());
  assert.equal(await Deno.readTextFile(`${s.dir}/conf`), "not a directory");
  assert.deepEqual(await ls(s.dir), ["conf"]);
});

Deno.test("filters (-i) route names into subdirectories they create", async () => {
  await using s = await startTestServer({
    filters: ".*\\.conf:conf;.*\\.md5:md5/;.*\\.zip:deep/collections",
  });
  assert.deepEqual(await ls(s.dir), ["conf", "deep", "md5"]);
  await Deno.remove(`${s.dir}/md5`);
  using c = await Raw.open(s.port);
  for (const name of ["agent.conf", "agent.md5", "c.zip", "x.data"]) {
    await c.write(`SEND <${name}> SIZE 2\n`);
    assert.equal(await c.line(), "SEND OK");
    await c.write("ok");
    assert.equal(await c.line(), "SEND OK");
  }
  assert.deepEqual(await ls(`${s.dir}/conf`), ["agent.conf"]);
  assert.deepEqual(await ls(`${s.dir}/md5`), ["agent.md5"]);
  assert.deepEqual(await ls(`${s.dir}/deep/collections`), ["c.zip"]);
  await c.write("RECV <agent.conf>\n");
  assert.equal(await c.line(), "RECV SIZE 2");
});

Deno.test("ZSEND: OK, zip body, OK; refusals; bad zip; bomb", async () => {
  await using s = await startTestServer({ maxSize: 200_000, maxUnzippedSize: 1_000_000 });
  using c = await Raw.open(s.port);
  const zip = await zipOf(text("compressed content"), "z.data");
  await c.write(`ZSEND <z.data> SIZE ${zip.length}\n`);
  assert.equal(await c.line(), "ZSEND OK");
  await c.write(zip);
  assert.equal(await c.line(), "ZSEND OK");
  assert.equal(await Deno.readTextFile(`${s.dir}/z.data`), "compressed content");
  const table: [string, string][] = [
    ["ZSEND <a/b> SIZE 1", "ZSEND ERR (invalid file name)"],
    ["ZSEND <y> SIZE 0", "ZSEND ERR (file is too big)"],
    ["ZSEND <y> SIZE 200001", "ZSEND ERR (file is too big)"],
    [`ZSEND <z.data> SIZE ${zip.length}`, "ZSEND ERR (file already exists)"],
  ];
  for (const [cmd, want] of table) {
    await c.write(cmd + "\n");
    assert.equal(await c.line(), want, cmd);
  }
  // Not a ZIP at all: stored as it came, as the reference's transparent unzip does.
  await c.write("ZSEND <plain.data> SIZE 9\n");
  assert.equal(await c.line(), "ZSEND OK");
  await c.write("not a zip");
  assert.equal(await c.line(), "ZSEND OK");
  // A broken archive: refused.
  const broken = "PK\x03\x04 broken";
  await c.write(`ZSEND <bad.data> SIZE ${broken.length}\n`);
  assert.equal(await c.line(), "ZSEND OK");
  await c.write(broken);
  assert.equal(await c.line(), "ZSEND ERR");
  const bomb = await zipOf(new Uint8Array(5_000_000), "bomb.data");
  await c.write(`ZSEND <bomb.data> SIZE ${bomb.length}\n`);
  assert.equal(await c.line(), "ZSEND OK");
  await c.write(bomb);
  assert.equal(await c.line(), "ZSEND ERR (file is too big)");
  assert.deepEqual(await ls(s.dir), ["plain.data", "z.data"]);
  assert.equal(await Deno.readTextFile(`${s.dir}/plain.data`), "not a zip");
});

Deno.test("RECV: SIZE, OK, body; refusals; any other answer cancels and the session goes on", async () => {
  await using s = await startTestServer();
  await Deno.writeFile(`${s.dir}/r.data`, text("0123456789"));
  await Deno.writeFile(`${s.dir}/empty.data`, new Uint8Array(0));
  await Deno.mkdir(`${s.dir}/sub`);
  using c = await Raw.open(s.port);
  await c.write("RECV <r.data>\n");
  assert.equal(await c.line(), "RECV SIZE 10");
  await c.write("RECV OK\n");
  assert.equal(dec.decode(await c.bytes(10)), "0123456789");
  await c.write("RECV <empty.data>\n");
  assert.equal(await c.line(), "RECV SIZE 0");
  await c.write("RECV OK\n");
  const table: [string, string][] = [
    ["RECV <../r.data>", "RECV ERR (file has an invalid file name)"],
    ["RECV <.>", "RECV ERR (file has an invalid file name)"],
    ["RECV <missing>", "RECV ERR (file does not exist)"],
    ["RECV <sub>", "RECV ERR (file does not exist)"],
  ];
  for (const [cmd, want] of table) {
    await c.write(cmd + "\n");
    assert.equal(await c.line(), want, cmd);
  }
  await c.write("RECV <r.data>\n");
  assert.equal(await c.line(), "RECV SIZE 10");
  await c.write("NO THANKS\n");
  await c.write("RECV <missing>\n");
  assert.equal(await c.line(), "RECV ERR (file does not exist)");
});

Deno.test("ZRECV: SIZE, OK, a zip with one deflated member", async () => {
  await using s = await startTestServer();
  await Deno.writeFile(`${s.dir}/r.data`, text("zip me ".repeat(100)));
  using c = await Raw.open(s.port);
  await c.write("ZRECV <r.data>\n");
  const m = (await c.line())!.match(/^ZRECV SIZE (\d+)$/);
  assert.ok(m);
  await c.write("ZRECV OK\n");
  const zip = await c.bytes(Number(m[1]));
  await using d = await tempDir();
  await Deno.writeFile(`${d.path}/z`, zip);
  const member = await readZipMember(`${d.path}/z`);
  assert.equal(member.method, 8);
  assert.equal(member.size, 700);
  for (
    const [cmd, want] of [
      ["ZRECV <a:b>", "ZRECV ERR (file has an invalid file name)"],
      ["ZRECV <missing>", "ZRECV ERR (file does not exist)"],
    ]
  ) {
    await c.write(cmd + "\n");
    assert.equal(await c.line(), want);
  }
  assert.deepEqual(await ls(s.dir), ["r.data"]); // the temporary zip is gone
});

Deno.test("LS and MV without insecure mode (-I) close the connection silently", async () => {
  await using s = await startTestServer();
  await Deno.writeTextFile(`${s.dir}/a`, "x");
  for (const cmd of ["LS <>\n", "MV <a>\n", "SMV <a>\n"]) {
    using c = await Raw.open(s.port);
    await c.write(cmd);
    assert.ok(await c.closedSilently(), cmd);
  }
  assert.deepEqual(await ls(s.dir), ["a"]);
});

Deno.test("LS: . and .., subdirectories, only servable names; filters choose the directory", async () => {
  await using s = await startTestServer({ insecure: true, filters: ".*\\.conf:conf" });
  await Deno.writeTextFile(`${s.dir}/b.data`, "x");
  await Deno.writeTextFile(`${s.dir}/a.data`, "x");
  await Deno.writeTextFile(`${s.dir}/.dmonitor.tmp.0123`, "partial");
  await Deno.writeTextFile(`${s.dir}/bad:name`, "x");
  await Deno.writeTextFile(`${s.dir}/conf/agent.conf`, "x");
  using c = await Raw.open(s.port);
  const list = async (filter: string) => {
    await c.write(`LS <${filter}>\n`);
    const m = (await c.line())!.match(/^LS SIZE (\d+)$/);
    assert.ok(m, filter);
    await c.write("LS OK\n");
    return dec.decode(await c.bytes(Number(m[1])));
  };
  assert.equal(await list(""), ".\n..\na.data\nb.data\nconf\n");
  assert.equal(await list("x.conf"), ".\n..\nagent.conf\n");
  await c.write("LS <../etc>\n");
  assert.equal(await c.line(), "LS ERR");
  await Deno.remove(`${s.dir}/conf`, { recursive: true });
  await c.write("LS <x.conf>\n");
  assert.equal(await c.line(), "LS ERR");
  await c.write("LS <>\n");
  assert.match((await c.line())!, /^LS SIZE \d+$/);
  await c.write("LS NO\n");
  await c.write("QUIT\n");
  assert.ok(await c.closedSilently());
});

Deno.test("MV: SIZE, OK, body, then the file is gone; MV ERR; cancel keeps the file", async () => {
  await using s = await startTestServer({ insecure: true });
  await Deno.writeTextFile(`${s.dir}/m.data`, "move me");
  using c = await Raw.open(s.port);
  await c.write("MV <m.data>\n");
  assert.equal(await c.line(), "MV SIZE 7");
  await c.write("NOPE\n");
  assert.deepEqual(await ls(s.dir), ["m.data"]);
  for (const cmd of ["MV <missing>", "MV <../m.data>", "MV <>"]) {
    await c.write(cmd + "\n");
    assert.equal(await c.line(), "MV ERR", cmd);
  }
  await c.write("MV <m.data>\n");
  assert.equal(await c.line(), "MV SIZE 7");
  await c.write("MV OK\n");
  assert.equal(dec.decode(await c.bytes(7)), "move me");
  await c.write("MV <m.data>\n"); // lock-step: the delete happened before the next command
  assert.equal(await c.line(), "MV ERR");
  assert.deepEqual(await ls(s.dir), []);
});

Deno.test("probe: a dmonitor server answers RECV <.dmonitor-tentacle> with its features", async () => {
  const probe = async (c: Raw) => {
    await c.write("RECV <.dmonitor-tentacle>\n");
    const reply = (await c.line())!;
    const m = reply.match(/^RECV SIZE (\d+)$/);
    if (!m) return reply;
    await c.write("RECV OK\n");
    return dec.decode(await c.bytes(Number(m[1])));
  };
  {
    await using s = await startTestServer({ insecure: true });
    using c = await Raw.open(s.port);
    assert.equal(await probe(c), "dmonitor-tentacle 1\nsmv\n");
  }
  {
    await using s = await startTestServer();
    using c = await Raw.open(s.port);
    assert.equal(await probe(c), "dmonitor-tentacle 1\n");
  }
  {
    // With extensions off the server is indistinguishable from the reference.
    await using s = await startTestServer({ insecure: true, extensions: false });
    using c = await Raw.open(s.port);
    assert.equal(await probe(c), "RECV ERR (file does not exist)");
    await c.write("SMV <x>\n");
    assert.ok(await c.closedSilently());
  }
});

Deno.test("SMV: the file stays leased until SMV DONE with matching length and SHA-256", async () => {
  await using s = await startTestServer({ insecure: true });
  const body = text("safe move");
  const sha = await sha256(body);
  await Deno.writeFile(`${s.dir}/s.data`, body);
  await Deno.writeFile(`${s.dir}/t.data`, body);
  using c = await Raw.open(s.port);
  using other = await Raw.open(s.port);
  const fetch = async (name: string) => {
    await c.write(`SMV <${name}>\n`);
    assert.equal(await c.line(), "SMV SIZE 9"); // the body follows at once
    assert.equal(dec.decode(await c.bytes(9)), "safe move");
  };
  await fetch("s.data");
  await fetch("t.data"); // two leases at once: the puller confirms in batches
  for (const cmd of ["MV <s.data>", "SMV <t.data>"]) {
    await other.write(cmd + "\n");
    assert.match((await other.line())!, /^S?MV ERR$/, "leased files cannot be taken");
  }
  await c.write("SMV <s.data>\n");
  assert.equal(await c.line(), "SMV ERR", "nor taken twice by the same connection");
  await c.write(`SMV DONE <s.data> SIZE 9 SHA256 ${"0".repeat(64)}\n`);
  assert.equal(await c.line(), "SMV KEPT (checksum mismatch)");
  await c.write(`SMV DONE <s.data> SIZE 9 SHA256 ${sha}\n`);
  assert.equal(await c.line(), "SMV KEPT (not leased)", "a mismatch ends the lease");
  await c.write(`SMV DONE <t.data> SIZE 8 SHA256 ${sha}\n`);
  assert.equal(await c.line(), "SMV KEPT (checksum mismatch)");
  assert.deepEqual(await ls(s.dir), ["s.data", "t.data"]);
  await fetch("s.data");
  await c.write(`SMV DONE <s.data> SIZE 9 SHA256 ${sha}\n`);
  assert.equal(await c.line(), "SMV DELETED");
  assert.deepEqual(await ls(s.dir), ["t.data"]);
  await c.write("SMV <s.data>\n");
  assert.equal(await c.line(), "SMV ERR");
  await other.write("SMV <t.data>\n");
  assert.equal(await other.line(), "SMV SIZE 9");
  await other.bytes(9);
  // A puller that vanishes before confirming leaves the file in place, free again.
  other.close();
  await new Promise((r) => setTimeout(r, 100));
  await fetch("t.data");
  assert.deepEqual(await ls(s.dir), ["t.data"]);
});

Deno.test("SMV: requests and confirmations may be pipelined", async () => {
  await using s = await startTestServer({ insecure: true });
  for (const n of ["a", "b", "c"]) await Deno.writeTextFile(`${s.dir}/${n}.data`, n.repeat(3));
  using c = await Raw.open(s.port);
  await c.write("SMV <a.data>\nSMV <missing>\nSMV <b.data>\nSMV <c.data>\n");
  const got: string[] = [];
  for (const n of ["a", "missing", "b", "c"]) {
    const reply = (await c.line())!;
    got.push(reply);
    if (reply.startsWith("SMV SIZE")) assert.equal(dec.decode(await c.bytes(3)), n.repeat(3));
  }
  assert.deepEqual(got, ["SMV SIZE 3", "SMV ERR", "SMV SIZE 3", "SMV SIZE 3"]);
  const done = async (n: string) =>
    `SMV DONE <${n}.data> SIZE 3 SHA256 ${await sha256(text(n.repeat(3)))}\n`;
  await c.write((await done("a")) + (await done("b")) + (await done("c")));
  assert.deepEqual([await c.line(), await c.line(), await c.line()], [
    "SMV DELETED",
    "SMV DELETED",
    "SMV DELETED",
  ]);
  assert.deepEqual(await ls(s.dir), []);
});

Deno.test("SMV: an unconfirmed lease expires and frees the file", async () => {
  await using s = await startTestServer({ insecure: true, leaseMs: 200 });
  await Deno.writeTextFile(`${s.dir}/e.data`, "x");
  using a = await Raw.open(s.port);
  using b = await Raw.open(s.port);
  await a.write("SMV <e.data>\n");
  assert.equal(await a.line(), "SMV SIZE 1");
  await a.bytes(1);
  await b.write("MV <e.data>\n");
  assert.equal(await b.line(), "MV ERR");
  await new Promise((r) => setTimeout(r, 300));
  await a.write(`SMV DONE <e.data> SIZE 1 SHA256 ${await sha256(text("x"))}\n`);
  assert.equal(await a.line(), "SMV KEPT (not leased)");
  await b.write("MV <e.data>\n");
  assert.equal(await b.line(), "MV SIZE 1");
});

Deno.test("PASS: right digest, wrong digest, missing, repeated, or unexpected", async () => {
  await using s = await startTestServer({ password: "s3cret" });
  {
    using c = await Raw.open(s.port);
    await c.write(`PASS ${passwordDigest("s3cret")}\n`);
    assert.equal(await c.line(), "PASS OK");
    await c.write("RECV <x>\n");
    assert.equal(await c.line(), "RECV ERR (file does not exist)");
    await c.write(`PASS ${passwordDigest("s3cret")}\n`);
    assert.ok(await c.closedSilently(), "second PASS is unknown");
  }
  for (
    const first of [
      `PASS ${passwordDigest("wrong")}`,
      `PASS ${passwordDigest("s3cret").toUpperCase()}`,
      "RECV <x>",
      "PASS",
    ]
  ) {
    using c = await Raw.open(s.port);
    await c.write(first + "\n");
    assert.ok(await c.closedSilently(), first);
  }
  await using open = await startTestServer();
  using c = await Raw.open(open.port);
  await c.write(`PASS ${passwordDigest("s3cret")}\n`);
  assert.ok(await c.closedSilently(), "PASS without a server password");
});

Deno.test("unknown commands close silently; a trailing \\r is tolerated", async () => {
  await using s = await startTestServer();
  for (const cmd of ["HELLO\n", "DEL <a>\n", "send <a> SIZE 1\n", "\n", "\x00\x01\x02\n"]) {
    using c = await Raw.open(s.port);
    await c.write(cmd);
    assert.ok(await c.closedSilently(), JSON.stringify(cmd));
  }
  using c = await Raw.open(s.port);
  await c.write("RECV <nothing>\r\n");
  assert.equal(await c.line(), "RECV ERR (file does not exist)");
});

Deno.test("connection cap (-c): the next client is answered 'busy', not left hanging", async () => {
  await using s = await startTestServer({ maxConnections: 1 });
  using first = await Raw.open(s.port);
  await first.write("RECV <x>\n");
  assert.equal(await first.line(), "RECV ERR (file does not exist)");
  for (const [cmd, want] of [["SEND <a> SIZE 1", "SEND ERR (server busy)"], ["LS <>", "LS ERR"]]) {
    using second = await Raw.open(s.port);
    const t0 = Date.now();
    await second.write(cmd + "\n");
    assert.equal(await second.line(), want);
    assert.ok(await second.closedSilently());
    assert.ok(Date.now() - t0 < 1000);
  }
  {
    using third = await Raw.open(s.port); // says nothing: closed after a short wait
    assert.ok(await third.closedSilently(3000));
  }
  await first.write("QUIT\n");
  assert.ok(await first.closedSilently());
  await new Promise((r) => setTimeout(r, 50));
  using again = await Raw.open(s.port);
  await again.write("RECV <x>\n");
  assert.equal(await again.line(), "RECV ERR (file does not exist)");
  assert.ok(s.logs.some((l) => l.includes("connection limit reached")));
});

Deno.test("graceful close: idle clients are dropped, a transfer in progress completes", async () => {
  const s = await startTestServer();
  using idle = await Raw.open(s.port);
  using busy = await Raw.open(s.port);
  await idle.write("RECV <x>\n");
  assert.equal(await idle.line(), "RECV ERR (file does not exist)");
  await busy.write("SEND <late.data> SIZE 6\n");
  assert.equal(await busy.line(), "SEND OK");
  await busy.write("hal");
  await new Promise((r) => setTimeout(r, 50));
  const closing = s.server.close();
  assert.ok(await idle.closedSilently());
  await busy.write("f!");
  await new Promise((r) => setTimeout(r, 20));
  await busy.write("!");
  assert.equal(await busy.line(), "SEND OK");
  assert.ok(await busy.closedSilently());
  await closing;
  assert.equal(await Deno.readTextFile(`${s.dir}/late.data`), "half!!");
  await assert.rejects(Raw.open(s.port));
  await s[Symbol.asyncDispose]();
});

Deno.test("listens on several addresses with one port, IPv6 loopback included", async () => {
  await using s = await startTestServer({ addresses: ["127.0.120.2", "127.0.120.3", "::1"] });
  assert.deepEqual(s.server.addresses, ["127.0.120.2", "127.0.120.3", "::1"]);
  for (const host of ["127.0.120.2", "127.0.120.3", "::1"]) {
    using c = await Raw.open(s.port, host);
    await c.write("RECV <x>\n");
    assert.equal(await c.line(), "RECV ERR (file does not exist)", host);
  }
  await assert.rejects(Raw.open(s.port, "127.0.120.4"));
});
