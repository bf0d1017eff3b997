import { deepStrictEqual as assertEquals, ok, rejects } from "node:assert/strict";
import {
  checkExecutable,
  createCommandChannel,
  passwdEntry,
  resolveRunAs,
  runAlertCommand,
} from "./command.ts";
import { renderWebhookPayload } from "./payload.ts";
import { manualClock, sampleDown, T0, tempDb, TESTDATA } from "./testing.ts";
import { DeliveryError, type Message } from "./types.ts";
import { trustedTempDir } from "../runner/testing.ts";
import { memoryLogger } from "../log/mod.ts";
import { createNotifier } from "./notifier.ts";
import { deliverDue } from "./deliver.ts";

const NAMES = ["echo", "fail", "hang", "flood", "stray"];

/**
 * Copies the testdata commands into a fresh directory any user can read, mode 755, under a
 * parent the trust rules accept (not /tmp: see lib/runner/trust.ts).
 */
async function commands(): Promise<{ dir: string } & AsyncDisposable> {
  const dir = await trustedTempDir("dmonitor-cmd-");
  for (const name of NAMES) {
    await Deno.copyFile(`${TESTDATA}${name}.command`, `${dir}/${name}.command`);
    await Deno.chmod(`${dir}/${name}.command`, 0o755);
  }
  return { dir, [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }) };
}

function channelFor(dir: string, timeoutMs = 5_000) {
  return createCommandChannel({
    commands: NAMES.map((name) => ({
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
  const writable = `${path} is writable by group and others (mode 0777); run chmod go-w on it`;
  assertEquals(await checkExecutable(path), writable);
  await rejects(channelFor(c.dir).send(message("echo"), signal), (e: DeliveryError) => {
    assertEquals(e.message, `Cannot run alert.d/echo.command: ${writable}`);
    return !e.permanent;
  });
  await Deno.chmod(path, 0o644);
  assertEquals(await checkExecutable(path), `${path} is not executable (mode 0644)`);
  assertEquals(await checkExecutable(`${c.dir}/nope`), `${c.dir}/nope does not exist`);
  await Deno.chmod(path, 0o755);
  assertEquals(await checkExecutable(path, 4242), null, "root-owned is fine for anyone");
  // The directory counts too: a group-writable alert.d lets others swap the command.
  await Deno.chmod(c.dir, 0o775);
  assertEquals(
    await checkExecutable(path),
    `${c.dir} is writable by group (mode 0775); run chmod go-w on it`,
  );
  await Deno.chmod(c.dir, 0o755);
});

/** Live processes whose environment holds `marker` (a notification id), from /proc. */
function processesWith(marker: string): number[] {
  const out: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      if (!Deno.readTextFileSync(`/proc/${e.name}/environ`).includes(marker)) continue;
      const stat = Deno.readTextFileSync(`/proc/${e.name}/stat`);
      if (stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z") out.push(Number(e.name));
    } catch {
      // Exited while we looked.
    }
  }
  return out;
}

Deno.test("command channel: exit 0 with setsid children left behind is delivered once, and they end", async () => {
  await using c = await commands();
  await using t = await tempDb();
  const clock = manualClock();
  const log = memoryLogger();
  const id = `stray-${crypto.randomUUID()}`;
  const notifier = createNotifier({
    db: t.db,
    targets: () => [{ channel: "command", name: "stray" }],
    clock,
    log,
  });
  assertEquals((await notifier.enqueue(sampleDown({ id }))).queued, 1);
  // A timeout far above the pipe grace: on the old code the delivery waited for it, then failed.
  const opts = { db: t.db, channels: { command: channelFor(c.dir, 3_000) }, clock, log };
  try {
    const first = await deliverDue(opts);
    assertEquals(first.map((a) => a.outcome), ["sent"], JSON.stringify(first));
    assertEquals(processesWith(`DMONITOR_NOTIFICATION=${id}`), [], "nothing of it is left");
    clock.advance(24 * 3600_000);
    assertEquals(await deliverDue(opts), [], "not sent again");
  } finally {
    for (const pid of processesWith(`DMONITOR_NOTIFICATION=${id}`)) Deno.kill(pid, "SIGKILL");
  }
});

Deno.test("passwdEntry finds a user's uid and gid", () => {
  const passwd =
    "root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/:/usr/sbin/nologin\n";
  assertEquals(passwdEntry(passwd, "nobody"), { uid: 65534, gid: 65534 });
  assertEquals(passwdEntry(passwd, "nobod"), null);
});
