/**
 * What an operator (or an attacker with write access to one directory of the tree) can put into
 * the tree while the node runs must not silence it: a FIFO or a link to /dev/zero in silence.d/
 * is refused, the outage is still delivered, checks keep running, and SIGTERM still stops the
 * node. Real node processes on 127.0.50.x, a real `.command` alert channel.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { dmonitor, NodeProcess, writeTree } from "./util.ts";

async function mkfifo(path: string): Promise<void> {
  const r = await new Deno.Command("mkfifo", { args: [path] }).output();
  assert.equal(r.code, 0, "mkfifo");
}

/** Waits until `path` holds a line matching `re` (the command channel's log). */
async function waitForFile(path: string, re: RegExp, node: NodeProcess, ms = 30_000) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const text = await Deno.readTextFile(path).catch(() => "");
    if (re.test(text)) return text;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`nothing matching ${re} in ${path}; node log:\n${node.lines.join("\n")}`);
}

function checkRuns(node: NodeProcess): number {
  return node.lines.filter((l) => / check result .*test=svc /.test(l)).length;
}

/** A tree whose `svc` check fails once `flag` exists, alerting through a command channel. */
async function failingTree(addr: string) {
  const out = await Deno.makeTempDir({ prefix: "dmonitor-pages-" });
  await Deno.chmod(out, 0o777); // the command runs as plugin_user (nobody) under root
  const flag = join(out, "fail");
  const pages = join(out, "pages.log");
  const tree = await writeTree({
    "dmonitor.yaml":
      `node: solo\nlisten: ${addr}\nstate_dir: state\ninterval: 1s\ntimeout: 900ms\n`,
    "hosts.d/127.0.0.1/svc": "",
    "plugins/check_svc":
      `#!/bin/sh\nif [ -e ${flag} ]; then echo FAIL down on purpose; else echo OK fine; fi\n`,
    "alert.d/pager.command": `#!/bin/sh\ntr -d '\\n' >> ${pages}\necho >> ${pages}\n`,
    "silence.d/.keep": "",
  });
  await Deno.chmod(join(tree, "alert.d/pager.command"), 0o755);
  return { tree, flag, pages };
}

Deno.test("a FIFO and a link to /dev/zero in silence.d at run time: the page goes out, checks go on, SIGTERM stops the node", async () => {
  const { tree, flag, pages } = await failingTree("127.0.50.1:2929");
  await using node = new NodeProcess(["--config", tree]);
  await node.waitFor(/node started/);
  await node.waitFor(/check result .*test=svc status=OK/);
  await mkfifo(join(tree, "silence.d/127.0.0.1"));
  await Deno.symlink("/dev/zero", join(tree, "silence.d/zero"));
  await Deno.writeTextFile(flag, "");

  const page = await waitForFile(pages, /"kind":\s*"down"/, node);
  assert.match(page, /127\.0\.0\.1/);
  await node.waitFor(
    /WARN dmonitor\.alerts silence ignored.*silence\.d\/127\.0\.0\.1: it is a FIFO/,
  );
  await node.waitFor(
    /WARN dmonitor\.alerts silence ignored.*silence\.d\/zero: it links to \/dev\/zero, a character device/,
  );

  // Checks are still scheduled after the notification.
  const runs = checkRuns(node);
  await node.waitFor(/check result .*test=svc status=FAIL/);
  const until = Date.now() + 30_000;
  while (checkRuns(node) < runs + 3 && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.ok(
    checkRuns(node) >= runs + 3,
    `runs stalled at ${checkRuns(node)}:\n${node.lines.join("\n")}`,
  );

  // Reading /dev/zero would grow without bound; the node stays small.
  const rss = Number(
    /VmRSS:\s+(\d+) kB/.exec(await Deno.readTextFile(`/proc/${node.pid}/status`))![1],
  );
  assert.ok(rss < 512 * 1024, `resident memory ${rss} kB`);

  node.kill("SIGTERM");
  const stopped = await Promise.race([
    node.status,
    new Promise<null>((r) => setTimeout(() => r(null), 20_000)),
  ]);
  assert.ok(stopped !== null, `SIGTERM did not stop the node; log:\n${node.lines.join("\n")}`);
  assert.equal(stopped.code, 0, node.lines.join("\n"));
  assert.ok(node.lines.some((l) => /node stopped/.test(l)), "a clean stop");
});

Deno.test("a link to /dev/zero in alert.d is refused with a clear message", async () => {
  const { tree } = await failingTree("127.0.50.2:2929");
  await Deno.symlink("/dev/zero", join(tree, "alert.d/zero.webhook"));
  const r = await dmonitor(["config", "check", "--config", tree]);
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(
    r.stdout + r.stderr,
    /alert\.d\/zero\.webhook: must be a regular file, found a link to \/dev\/zero, a character device/,
  );
});
