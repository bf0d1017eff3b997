import { deepStrictEqual as assertEquals, ok, rejects } from "node:assert/strict";
import {
  checkExecutable,
  createCommandChannel,
  passwdEntry,
  resolveRunAs,
  runAlertCommand,
} from "./command.ts";
import { renderWebhookPayload } from "./payload.ts";
import { sampleDown, T0, TESTDATA } from "./test_util.ts";
import { DeliveryError, type Message } from "./types.ts";

/** Copies the testdata commands into a fresh directory any user can read, mode 755. */
async function commands(): Promise<{ dir: string } & AsyncDisposable> {
  const dir = await Deno.makeTempDir({ prefix: "dmonitor-cmd-" });
  await Deno.chmod(dir, 0o755);
  for (const name of ["echo", "fail", "hang", "flood"]) {
    await Deno.copyFile(`${TESTDATA}${name}.command`, `${dir}/${name}.command`);
    await Deno.chmod(`${dir}/${name}.command`, 0o755);
  }
  return { dir, [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }) };
}

function channelFor(dir: string, timeoutMs = 5_000) {
  return createCommandChannel({
    commands: ["echo", "fail", "hang", "flood"].map((name) => ({
      name,
      path: `${dir}/${name}.command`,
      file: `alert.d/${name}.command`,
    })),
    runAs: null,
    timeoutMs,
  });
}

function message(name: string): Message {
  return { notification: sampleDown(), target: { channel: "command", name }, createdAt: T0 };
}
const signal = new AbortController().signal;

/** Live processes whose process group is `pgid` (from /proc). Zombies are not running: they wait
 * for init to reap them, which some container inits never do. */
function groupMembers(pgid: number): number[] {
  const out: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${e.name}/stat`);
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[2]) === pgid && fields[0] !== "Z") out.push(Number(e.name));
    } catch {
      // Exited while we looked.
    }
  }
  return out;
}

Deno.test("command: gets the notification JSON on stdin, in a clean sandbox", async () => {
  await using c = await commands();
  const runAs = await resolveRunAs("nobody");
  const input = JSON.stringify(renderWebhookPayload(sampleDown())) + "\n";
  const run = await runAlertCommand(`${c.dir}/echo.command`, input, {
    env: { DMONITOR_HOST: "www.example.com" },
    timeoutMs: 5_000,
    maxOutput: 64 * 1024,
    runAs,
    signal,
  });
  assertEquals([run.code, run.timedOut, run.truncated], [0, false, false]);
  assertEquals(run.stdout, input);
  const [facts, ...env] = run.stderr.trim().split("\n");
  const want = `uid=${runAs ? runAs.uid : Deno.uid()} cwd=/ pgid=${run.pid} pid=${run.pid}`;
  assertEquals(facts, want, "runs as plugin_user (when root), in /, in its own process group");
  assertEquals(env.filter((l) => !l.startsWith("PWD=")), [
    "DMONITOR_HOST=www.example.com",
    "LANG=C.UTF-8",
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
  ]);
});

Deno.test("command channel: exit 0 delivers, exit 3 is retried with its stderr", async () => {
  await using c = await commands();
  const channel = channelFor(c.dir);
  const receipt = await channel.send(message("echo"), signal);
  ok(receipt.detail.startsWith('exit 0: {"schema":"dmonitor.notification/1"'), receipt.detail);
  await rejects(channel.send(message("fail"), signal), (e: DeliveryError) => {
    assertEquals(e.message, "alert.d/fail.command exited with 3: pager service said no");
    return !e.permanent;
  });
  await rejects(channel.send(message("gone"), signal), (e: DeliveryError) => e.permanent);
});

Deno.test("command: a hanging command that ignores SIGTERM and forks is killed whole", async () => {
  await using c = await commands();
  const started = Date.now();
  const run = await runAlertCommand(`${c.dir}/hang.command`, "{}", {
    env: {},
    timeoutMs: 300,
    maxOutput: 1024,
    runAs: null,
  });
  const took = Date.now() - started;
  assertEquals([run.timedOut, run.code, run.signal, run.stdout], [
    true,
    null,
    "SIGKILL",
    "started\n",
  ]);
  // hang.command never ends: a bound far above 300 ms still tells "killed" from "waited".
  ok(took < 10_000, `took ${took} ms`);
  // SIGKILL went to the whole group; a loaded machine may take a moment to let the forked child
  // die, so wait for the group to empty (a positive event) rather than reading /proc once.
  const deadline = Date.now() + 10_000;
  while (groupMembers(run.pid).length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
  }
  assertEquals(groupMembers(run.pid), [], "nothing of it left running");
  await rejects(channelFor(c.dir, 300).send(message("hang"), signal), /timed out after 0.3s/);
});

Deno.test("command: 10 MB of output is capped, not buffered", async () => {
  await using c = await commands();
  const run = await runAlertCommand(`${c.dir}/flood.command`, "", {
    env: {},
    timeoutMs: 5_000,
    maxOutput: 64 * 1024,
    runAs: null,
  });
  assertEquals([run.code, run.truncated, run.stdout.length], [0, true, 64 * 1024]);
});

Deno.test("command: unsafe or missing executables are refused with a reason", async () => {
  await using c = await commands();
  const path = `${c.dir}/echo.command`;
  assertEquals(await checkExecutable(path), null);
  await Deno.chmod(path, 0o777);
  assertEquals(
    await checkExecutable(path),
    "is writable by group or others (mode 777); refusing to run it",
  );
  await rejects(channelFor(c.dir).send(message("echo"), signal), (e: DeliveryError) => {
    assertEquals(
      e.message,
      "alert.d/echo.command is writable by group or others (mode 777); refusing to run it",
    );
    return !e.permanent;
  });
  await Deno.chmod(path, 0o644);
  assertEquals(await checkExecutable(path), "is not executable (chmod 755 it)");
  assertEquals(await checkExecutable(`${c.dir}/nope`), "does not exist");
  await Deno.chmod(path, 0o755);
  assertEquals(await checkExecutable(path, 4242), null, "root-owned is fine for anyone");
});

Deno.test("passwdEntry finds a user's uid and gid", () => {
  const passwd =
    "root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/:/usr/sbin/nologin\n";
  assertEquals(passwdEntry(passwd, "nobody"), { uid: 65534, gid: 65534 });
  assertEquals(passwdEntry(passwd, "nobod"), null);
});
