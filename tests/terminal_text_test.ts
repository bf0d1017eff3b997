/**
 * Text from others on the operator's terminal. A peer's vote, a check's output and a peer's error
 * reach `dmonitor status` over the network; a node (or whoever answers in its place) that puts a
 * clear-screen or an OSC 52 clipboard write in them must not get those to the terminal.
 */
import assert from "node:assert/strict";
import { dmonitor, NodeProcess, writeTree } from "./util.ts";

// deno-lint-ignore no-control-regex
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/;
const CLEAR = "\x1b[2J\x1b[H";
const CLIPBOARD = "\x1b]52;c;ZWNobyBwd25lZA==\x07";

type View = {
  checks: { output: string }[];
  incidents: { votes: { node: string; output: string }[] }[];
  peers: { lastError: string | null }[];
};

Deno.test("dmonitor status prints others' text without terminal escapes", async () => {
  const tree = await writeTree({
    "dmonitor.yaml":
      "node: solo\nlisten: 127.0.50.3:2929\nstate_dir: state\ninterval: 1s\ntimeout: 900ms\n",
    "hosts.d/127.0.0.1/disk": "",
    "plugins/check_disk": "#!/bin/sh\necho 'FAIL disk full'\n",
  });
  await using node = new NodeProcess(["--config", tree], { DMONITOR_LOG_LEVEL: "info" });
  await node.waitFor(/sending down notice/);

  // The real node's view, as a hostile peer would shape its texts.
  const real = await (await fetch("http://127.0.50.3:2929/v1/status")).json() as View;
  assert.equal(real.incidents.length, 1, JSON.stringify(real));
  const view = structuredClone(real);
  const vote = view.incidents[0]!.votes[0]!;
  vote.output = `${CLEAR}disk ${CLIPBOARD}full\x1bc`;
  vote.node = `solo${CLIPBOARD}`;
  view.checks[0]!.output = `FAIL ${CLEAR}disk\x9b2J full`;
  await using hostile = Deno.serve(
    { hostname: "127.0.50.4", port: 0, onListen: () => {} },
    () => Response.json(view),
  );
  const url = `http://127.0.50.4:${hostile.addr.port}`;

  const status = await dmonitor(["status", "--url", url]);
  assert.equal(status.code, 2, status.stdout + status.stderr);
  assert.ok(!CONTROL.test(status.stdout), `control characters in ${JSON.stringify(status.stdout)}`);
  assert.ok(!status.stdout.includes("\x1b"), "no ESC at all");
  assert.ok(!status.stdout.includes("ZWNobyBwd25lZA=="), "the OSC 52 payload is gone");
  assert.match(status.stdout, /Open incidents \(1\)/);
  assert.match(status.stdout, /solo\s+FAIL\s+.*disk full/, "the vote, readable");
  assert.match(status.stdout, /127\.0\.0\.1\s+disk\s+.*FAIL disk full/, "the check, readable");

  const json = await dmonitor(["status", "--json", "--url", url]);
  assert.ok(!CONTROL.test(json.stdout), "JSON leaves no raw control character (C1 included)");
  assert.equal((JSON.parse(json.stdout) as View).checks[0]!.output, view.checks[0]!.output);
});

Deno.test("dmonitor check prints a plugin's output without terminal escapes", async () => {
  const tree = await writeTree({
    "dmonitor.yaml": "state_dir: state\n",
    "hosts.d/127.0.0.1/disk": "",
    "plugins/check_disk": "#!/bin/sh\nprintf 'FAIL \\033[2Jdisk \\033]52;c;QQ==\\007full\\n'\n",
  });
  const check = await dmonitor(["check", "--config", tree, "127.0.0.1", "disk"]);
  assert.equal(check.code, 2, check.stdout + check.stderr);
  assert.ok(!CONTROL.test(check.stdout), JSON.stringify(check.stdout));
  assert.match(check.stdout, /^127\.0\.0\.1 disk FAIL .*disk.*full\n$/);
});
