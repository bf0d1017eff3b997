import assert from "node:assert/strict";
import { createPingCheck, judgePing, parsePingOutput, ping } from "./ping.ts";
import { ctxFor, PROMPT_MS } from "./testing.ts";

const IPUTILS_OK = `PING 127.0.0.1 (127.0.0.1) 56(84) bytes of data.

--- 127.0.0.1 ping statistics ---
3 packets transmitted, 3 received, 0% packet loss, time 404ms
rtt min/avg/max/mdev = 0.031/0.045/0.060/0.012 ms
`;
const IPUTILS_LOST = `PING 192.0.2.1 (192.0.2.1) 56(84) bytes of data.

--- 192.0.2.1 ping statistics ---
3 packets transmitted, 0 received, 100% packet loss, time 2041ms
`;
const BUSYBOX_PARTIAL = `PING 127.0.0.1 (127.0.0.1): 56 data bytes

--- 127.0.0.1 ping statistics ---
3 packets transmitted, 1 packets received, 66% packet loss
round-trip min/avg/max = 0.047/0.052/0.058 ms
`;

Deno.test("parsePingOutput: iputils and busybox summaries", () => {
  assert.deepEqual(parsePingOutput(IPUTILS_OK), { transmitted: 3, received: 3, avgMs: 0.045 });
  assert.deepEqual(parsePingOutput(IPUTILS_LOST), { transmitted: 3, received: 0 });
  assert.deepEqual(parsePingOutput(BUSYBOX_PARTIAL), { transmitted: 3, received: 1, avgMs: 0.052 });
  assert.equal(parsePingOutput("ping: socket: Operation not permitted\n"), null);
});

Deno.test("judgePing: OK when at least one reply came back", () => {
  assert.deepEqual(judgePing("h", { transmitted: 3, received: 3, avgMs: 0.045 }), {
    status: "OK",
    output: "h: 3/3 replies, 0% loss, rtt avg 0.045 ms",
    perfdata: "rta=0.000045s pl=0%",
  });
  assert.deepEqual(judgePing("h", { transmitted: 3, received: 1, avgMs: 1.5 }), {
    status: "OK",
    output: "h: 1/3 replies, 67% loss, rtt avg 1.500 ms",
    perfdata: "rta=0.001500s pl=67%",
  });
  assert.deepEqual(judgePing("h", { transmitted: 3, received: 0 }), {
    status: "FAIL",
    output: "h: 0/3 replies, 100% loss",
    perfdata: "pl=100%",
  });
});

Deno.test("ping: the real system ping answers for 127.0.0.1 and ::1", async () => {
  const v4 = await ping.run(ctxFor("127.0.0.1", {}));
  assert.equal(v4.status, "OK", v4.output);
  assert.match(v4.output, /^127\.0\.0\.1: 3\/3 replies, 0% loss, rtt avg [\d.]+ ms$/);
  const v6 = await ping.run(ctxFor("::1", { count: 1 }));
  assert.equal(v6.status, "OK", v6.output);
  assert.match(v6.output, /^::1: 1\/1 replies, 0% loss/);
});

Deno.test("ping: busybox ping works too (appliances)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "dmonitor-busybox-ping-" });
  try {
    await Deno.symlink("/usr/bin/busybox", `${dir}/ping`);
    const out = await createPingCheck({ dirs: [dir] }).run(ctxFor("127.0.0.1", { count: 2 }));
    assert.equal(out.status, "OK", out.output);
    assert.match(out.output, /^127\.0\.0\.1: 2\/2 replies, 0% loss, rtt avg [\d.]+ ms$/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** A directory holding a fake `ping` shell script with `body`. */
async function fakePing(body: string): Promise<{ dir: string } & AsyncDisposable> {
  const dir = await Deno.makeTempDir({ prefix: "dmonitor-fake-ping-" });
  await Deno.writeTextFile(`${dir}/ping`, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  await Deno.chmod(`${dir}/ping`, 0o755);
  return { dir, [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }) };
}

Deno.test("ping: runs ping without a shell, with fixed args and a clean environment", async () => {
  await using fake = await fakePing(`
printf '%s\n' "$@" > "$(dirname "$0")/args"
env | grep -v '^PWD=\\|^SHLVL=\\|^_=' | sort > "$(dirname "$0")/env"
printf '%s' '${IPUTILS_OK}'`);
  const check = createPingCheck({ dirs: [fake.dir] });
  const out = await check.run(ctxFor("127.0.0.1", { count: 3, wait: 2 }));
  assert.equal(out.status, "OK", out.output);
  const args = (await Deno.readTextFile(`${fake.dir}/args`)).trim().split("\n");
  assert.deepEqual(args, ["-n", "-q", "-c", "3", "-i", "0.2", "-W", "2", "127.0.0.1"]);
  const env = (await Deno.readTextFile(`${fake.dir}/env`)).trim().split("\n");
  assert.deepEqual(env, ["LC_ALL=C", "PATH=/usr/bin:/bin:/usr/sbin:/sbin"]);
});

Deno.test("ping: no replies FAIL with the loss (fake ping: no packet leaves the machine)", async () => {
  await using fake = await fakePing(`printf '%s' '${IPUTILS_LOST}'; exit 1`);
  const out = await createPingCheck({ dirs: [fake.dir] }).run(ctxFor("192.0.2.1", {}));
  assert.deepEqual(out, {
    status: "FAIL",
    output: "192.0.2.1: 0/3 replies, 100% loss",
    perfdata: "pl=100%",
  });
});

Deno.test("ping: an unresolvable host FAILs with ping's own message", async () => {
  // /etc/resolv.conf here points at a non-loopback server, so a real `ping nonexistent.invalid`
  // would send a DNS query off the machine; the fake prints what iputils prints in that case.
  await using fake = await fakePing(`echo "ping: $9: Name or service not known" >&2; exit 2`);
  const out = await createPingCheck({ dirs: [fake.dir] }).run(ctxFor("nonexistent.invalid", {}));
  assert.deepEqual(out, {
    status: "FAIL",
    output:
      `${fake.dir}/ping nonexistent.invalid exited with code 2: ping: nonexistent.invalid: Name or service not known`,
  });
});

Deno.test("ping: a missing ping command is a clear FAIL", async () => {
  const empty = await Deno.makeTempDir();
  try {
    const out = await createPingCheck({ dirs: [empty, "relative/dir"] }).run(
      ctxFor("127.0.0.1", {}),
    );
    assert.deepEqual(out, {
      status: "FAIL",
      output: `no ping command found (looked in ${empty}:relative/dir); install iputils-ping`,
    });
  } finally {
    await Deno.remove(empty);
  }
});

Deno.test("ping: a hanging ping is killed with its children when the signal aborts", async () => {
  // Not `exec sleep`: the child sleep holds stdout open, as a stuck process tree would.
  await using fake = await fakePing(`sleep 30 & echo $! > "$(dirname "$0")/child"; wait`);
  const t0 = performance.now();
  const out = await createPingCheck({ dirs: [fake.dir] }).run(
    ctxFor("127.0.0.1", {}, { timeoutMs: 300 }),
  );
  assert.ok(performance.now() - t0 < PROMPT_MS, "returned promptly");
  assert.deepEqual(out, { status: "FAIL", output: "timed out after 300 ms pinging 127.0.0.1" });
  const child = (await Deno.readTextFile(`${fake.dir}/child`)).trim();
  // The group kill reaches the sleep too: nothing is left running. Exit is asynchronous after
  // SIGKILL, so allow it a moment to finish dying (a zombie awaiting its reaper counts as dead).
  let state = "";
  for (let i = 0; i < 100; i++) {
    state = await Deno.readTextFile(`/proc/${child}/stat`).then(
      (s) => s.split(" ")[2] ?? "",
      () => "gone",
    );
    if (state === "gone" || state === "Z" || state === "X") break;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.ok(["gone", "Z", "X"].includes(state), `sleep ${child} still running (state ${state})`);
});

Deno.test("ping: refuses a host that looks like an option", async () => {
  const out = await ping.run(ctxFor("-f", {}));
  assert.deepEqual(out, { status: "FAIL", output: `refusing to ping "-f"` });
});
