// The CLI entry points with injected effects: flags, exit codes, messages.
import assert from "node:assert/strict";
import { UsageError } from "../errors/mod.ts";
import { type CliDeps, FOREGROUND_ENV, tentacleClientMain, tentacleServerMain } from "./cli.ts";
import { TentacleClient } from "./client.ts";
import type { TentacleServer } from "./server.ts";
import { ls, startTestServer, tempDir, tlsFile } from "./testing.ts";

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

function capture(extra: Partial<CliDeps> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    deps: {
      stdout: (t: string) => void out.push(t),
      stderr: (l: string) => void err.push(l),
      // In process: the switch would change the test runner's own user.
      dropPrivileges: () => Promise.resolve(),
      ...extra,
    } as CliDeps,
  };
}

/** Runs tentacleServerMain until `body` is done, then stops it through the injected signal. */
async function withCliServer(
  args: string[],
  body: (srv: TentacleServer, err: string[]) => Promise<void>,
) {
  const stop = new AbortController();
  let listening!: (s: TentacleServer) => void;
  const ready = new Promise<TentacleServer>((r) => (listening = r));
  // Never the real respawn from a test: the daemon copy is "already" in the foreground.
  const env = (n: string) => (n === FOREGROUND_ENV ? "1" : undefined);
  const io = capture({ signal: stop.signal, onListening: listening, env });
  const run = tentacleServerMain(args, io.deps);
  const srv = await Promise.race([
    ready,
    run.then(() => Promise.reject(new Error(io.err.join("\n")))),
  ]);
  try {
    await body(srv, io.err);
  } finally {
    stop.abort();
    assert.equal(await run, 0);
  }
}

Deno.test("tentacle-server -h prints usage; bad flags and paths are UsageErrors", async () => {
  const io = capture();
  assert.equal(await tentacleServerMain(["-h"], io.deps), 0);
  assert.match(io.out.join(""), /^Usage: dmonitor tentacle-server -s <storage directory>/);
  await assert.rejects(
    tentacleServerMain(["-Z"], io.deps),
    (e: Error) =>
      e instanceof UsageError &&
      e.message === "tentacle-server: unknown option -Z (see tentacle-server -h)",
  );
  await assert.rejects(tentacleServerMain(["-s"], io.deps), /requires a value/);
  await assert.rejects(
    tentacleServerMain(["-s", "/nonexistent/dir"], io.deps),
    /Directory \/nonexistent\/dir does not exist/,
  );
  await using d = await tempDir();
  await assert.rejects(
    tentacleServerMain(["-s", d.path, "extra"], io.deps),
    /unexpected argument 'extra'/,
  );
  await assert.rejects(
    tentacleServerMain(["-s", d.path, "-e", "/no/cert", "-k", "/no/key"], io.deps),
    /File \/no\/cert does not exist/,
  );
  await assert.rejects(
    tentacleServerMain(["-F", "/no/such.conf"], io.deps),
    /Configuration file \/no\/such.conf is not readable/,
  );
});

Deno.test("tentacle-server: runs with the reference's flags, logs to -l, stops on the signal", async () => {
  await using d = await tempDir();
  const port = freePort();
  const log = `${d.path}/log.txt`;
  await Deno.mkdir(`${d.path}/spool`);
  const args = [
    "-s",
    `${d.path}/spool`,
    "-a",
    "127.0.0.1",
    "-p",
    String(port),
    "-v",
    "-l",
    log,
    "-I",
    "-o",
    "-i.*\\.conf:conf",
  ];
  await withCliServer(args, async (srv) => {
    assert.equal(srv.port, port);
    const io = capture();
    await Deno.writeTextFile(`${d.path}/agent.conf`, "conf");
    assert.equal(
      await tentacleClientMain(
        ["-a", "127.0.0.1", "-p", String(port), `${d.path}/agent.conf`],
        io.deps,
      ),
      0,
    );
  });
  assert.deepEqual(await ls(`${d.path}/spool/conf`), ["agent.conf"]);
  const logText = await Deno.readTextFile(log);
  assert.match(logText, /INFO tentacle server listening address=127.0.0.1/);
  assert.match(logText, /received file .*file=agent.conf/);
});

Deno.test("tentacle-server -F: the reference's config file; -d re-executes detached", async () => {
  await using d = await tempDir();
  const port = freePort();
  await Deno.writeTextFile(
    `${d.path}/t.conf`,
    `addresses 127.0.0.1\nport ${port}\ndirectory ${d.path}\ndaemon 1\nquiet 1\n`,
  );
  let respawned = 0;
  const io = capture({ respawn: () => Promise.resolve(++respawned && 0), env: () => undefined });
  assert.equal(await tentacleServerMain(["-F", `${d.path}/t.conf`], io.deps), 0);
  assert.equal(respawned, 1);
  // The re-executed copy sees FOREGROUND_ENV and serves.
  await withCliServer(["-F", `${d.path}/t.conf`], async (srv) => {
    assert.equal(srv.port, port);
    const c = await TentacleClient.connect({ port, probe: false });
    await c.quit();
  });
  assert.equal(respawned, 1);
});

Deno.test("tentacle-client: every file in one session, exit 0; -v messages", async () => {
  await using s = await startTestServer();
  await using d = await tempDir();
  await Deno.writeTextFile(`${d.path}/a.data`, "A");
  await Deno.writeTextFile(`${d.path}/b.data`, "B");
  const io = capture();
  const code = await tentacleClientMain([
    "-v",
    "-p",
    String(s.port),
    `${d.path}/a.data`,
    `${d.path}/b.data`,
  ], io.deps);
  assert.equal(code, 0, io.err.join("\n"));
  assert.deepEqual(await ls(s.dir), ["a.data", "b.data"]);
  assert.match(
    io.out.join(""),
    /\[log\] Connected to 127.0.0.1:\d+\n\[log\] File '.*a.data' sent\n/,
  );
  assert.equal(s.logs.filter((l) => l.includes("client connected")).length, 1);
});

Deno.test("tentacle-client: refusal exits 1 with the reference's message; -q silences it", async () => {
  await using s = await startTestServer();
  await using d = await tempDir();
  await Deno.writeTextFile(`${d.path}/a.data`, "A");
  await Deno.writeTextFile(`${s.dir}/a.data`, "already");
  const io = capture();
  assert.equal(await tentacleClientMain(["-p", String(s.port), `${d.path}/a.data`], io.deps), 1);
  assert.deepEqual(io.err, ["[err] Server responded SEND ERR (file already exists)."]);
  const quiet = capture();
  assert.equal(
    await tentacleClientMain(["-q", "-p", String(s.port), `${d.path}/a.data`], quiet.deps),
    1,
  );
  assert.deepEqual(quiet.err, []);
  const missing = capture();
  assert.equal(await tentacleClientMain(["-p", String(s.port), `${d.path}/nope`], missing.deps), 1);
  assert.deepEqual(missing.err, [`[err] File '${d.path}/nope' does not exist.`]);
  await s.server.close();
  const down = capture();
  assert.equal(await tentacleClientMain(["-p", String(s.port), `${d.path}/a.data`], down.deps), 1);
  assert.match(down.err[0]!, /^\[err\] Cannot connect to 127.0.0.1:\d+/);
});

Deno.test("tentacle-client -g and -z: receive into the current directory, compressed both ways", async () => {
  await using s = await startTestServer();
  await using d = await tempDir();
  await Deno.writeTextFile(`${d.path}/z.data`, "zipped ".repeat(1000));
  const io = capture({ cwd: `${d.path}` });
  assert.equal(
    await tentacleClientMain(["-z", "-p", String(s.port), `${d.path}/z.data`], io.deps),
    0,
  );
  assert.equal(await Deno.readTextFile(`${s.dir}/z.data`), "zipped ".repeat(1000));
  await Deno.remove(`${d.path}/z.data`);
  assert.equal(await tentacleClientMain(["-g", "-z", "-p", String(s.port), "z.data"], io.deps), 0);
  assert.equal(await Deno.readTextFile(`${d.path}/z.data`), "zipped ".repeat(1000));
  assert.equal(await tentacleClientMain(["-g", "-p", String(s.port), "../escape"], io.deps), 1);
  assert.equal(await tentacleClientMain(["-g", "-p", String(s.port), "missing"], io.deps), 1);
  assert.match(io.err.at(-1)!, /RECV ERR \(file does not exist\)/);
  assert.equal(await tentacleClientMain(["-h"], io.deps), 0);
  assert.match(io.out.join(""), /Usage: dmonitor tentacle-client/);
  await assert.rejects(tentacleClientMain(["-Q", "x"], io.deps), UsageError);
});

Deno.test("tentacle-client with mutual TLS and a password, as Pandora agents use it", async () => {
  await using s = await startTestServer({
    password: "pw",
    tls: {
      certFile: tlsFile("server.crt"),
      keyFile: tlsFile("server.key"),
      caFile: tlsFile("ca.crt"),
    },
  });
  await using d = await tempDir();
  await Deno.writeTextFile(`${d.path}/t.data`, "tls");
  const io = capture();
  const args = [
    "-x",
    "pw",
    "-e",
    tlsFile("client.crt"),
    "-k",
    tlsFile("client.key"),
    "-f",
    tlsFile("ca.crt"),
  ];
  assert.equal(
    await tentacleClientMain([...args, "-p", String(s.port), `${d.path}/t.data`], io.deps),
    0,
    io.err.join(),
  );
  assert.equal(
    await tentacleClientMain(["-c", "-p", String(s.port), `${d.path}/t.data`], io.deps),
    1,
  );
});
