import assert from "node:assert/strict";
import {
  dirProblem,
  type EntryInfo,
  fileProblem,
  trustProblem,
  trustProblemSync,
} from "./trust.ts";
import { runPlugin } from "./run.ts";
import { trustedTempDir } from "./testing.ts";
import { pluginTrustProblems } from "./validate.ts";
import { configCommand } from "../cli/config_check.ts";
import { checkExecutable } from "../alerts/command.ts";

const isRoot = Deno.uid() === 0;
const NOBODY = 65534;
const asRoot = { nodeUid: 0, runAs: null };
const asNobody = { nodeUid: 0, runAs: { uid: NOBODY, gid: NOBODY } };

const dir = (mode: number, uid = 0, gid = 0): EntryInfo => ({
  isFile: false,
  isDirectory: true,
  isSymlink: false,
  mode: 0o40000 | mode,
  uid,
  gid,
});
const file = (mode: number, uid = 0, gid = 0): EntryInfo => ({
  ...dir(mode, uid, gid),
  isFile: true,
  isDirectory: false,
  mode: 0o100000 | mode,
});

Deno.test("trust: the pure rules for directories and files", () => {
  const table: [string, string | null, string | null][] = [
    ["dir 0755 root", dirProblem("/d", dir(0o755), asNobody), null],
    [
      "dir owned by the node's user",
      dirProblem("/d", dir(0o700, 1000), { ...asRoot, nodeUid: 1000 }),
      null,
    ],
    [
      "dir group-writable",
      dirProblem("/d", dir(0o775), asRoot),
      "/d is writable by group (mode 0775); run chmod go-w on it",
    ],
    [
      "sticky /tmp-like dir",
      dirProblem("/tmp", dir(0o1777), asRoot),
      "/tmp is writable by group and others (mode 1777); run chmod go-w on it; " +
      "a sticky directory like /tmp is not safe either",
    ],
    [
      "dir of another user",
      dirProblem("/d", dir(0o755, 7), asRoot),
      "/d is owned by uid 7, not by root",
    ],
    [
      "dir of another user, node uid 1000",
      dirProblem("/d", dir(0o755, 7), { nodeUid: 1000, runAs: null }),
      "/d is owned by uid 7, not by root or dmonitor's own user (uid 1000)",
    ],
    [
      "dir closed to nobody",
      dirProblem("/d", dir(0o750), asNobody),
      "/d is not searchable by uid 65534 (mode 0750)",
    ],
    ["dir open to nobody's group", dirProblem("/d", dir(0o750, 0, NOBODY), asNobody), null],
    ["file 0755", fileProblem("/f", file(0o755), asNobody), null],
    [
      "setuid",
      fileProblem("/f", file(0o4755), asNobody),
      "/f has the setuid bit (mode 4755); plugins run without privileges: run chmod ug-s on it",
    ],
    [
      "setgid",
      fileProblem("/f", file(0o2755), asNobody),
      "/f has the setgid bit (mode 2755); plugins run without privileges: run chmod ug-s on it",
    ],
    [
      "file 0700 as nobody",
      fileProblem("/f", file(0o700), asNobody),
      "/f is not executable by uid 65534 (mode 0700)",
    ],
    ["file 0700 as root", fileProblem("/f", file(0o700), asRoot), null],
    ["file 0644", fileProblem("/f", file(0o644), asRoot), "/f is not executable (mode 0644)"],
    ["directory as the file", fileProblem("/f", dir(0o755), asRoot), "/f is not a regular file"],
  ];
  for (const [name, got, want] of table) assert.equal(got, want, name);
});

/** A trusted scratch tree for real files, removed afterwards. */
async function tree() {
  const root = await trustedTempDir("dmonitor-trust-");
  const plugin = async (path: string, mode = 0o755) => {
    await Deno.writeTextFile(path, "#!/bin/sh\necho OK trusted\n");
    await Deno.chmod(path, mode);
    return path;
  };
  const mkdir = async (path: string, mode = 0o755) => {
    await Deno.mkdir(path, { recursive: true });
    await Deno.chmod(path, mode);
    return path;
  };
  return {
    root,
    plugin,
    mkdir,
    [Symbol.asyncDispose]: () => Deno.remove(root, { recursive: true }),
  };
}

const run = (path: string) => runPlugin({ host: "h", test: "t", path, timeoutMs: 5_000 });

/** Asserts run time and the synchronous validator refuse `path` with exactly `reason`. */
async function assertRefused(path: string, reason: string, why: string) {
  const r = await run(path);
  assert.deepEqual([r.status, r.state], ["FAIL", "ERROR"], why);
  assert.equal(r.output, `Cannot run plugin ${path}: ${reason}`, why);
  const o = isRoot ? asNobody : { nodeUid: Deno.uid(), runAs: null };
  assert.equal(trustProblemSync(path, o), reason, `${why} (sync)`);
  assert.equal(await trustProblem(path, o), reason, `${why} (async)`);
}

Deno.test({
  name: "trust: real files: bad directories, owners, setuid and links are refused at run time",
  ignore: !isRoot,
  fn: async () => {
    await using t = await tree();
    const good = await t.mkdir(`${t.root}/good`);
    const ok = await t.plugin(`${good}/check_ok`);
    const r = await run(ok);
    assert.deepEqual([r.status, r.output], ["OK", "trusted"], "a good plugin still runs");

    const gw = await t.mkdir(`${t.root}/gw`, 0o775);
    await assertRefused(
      await t.plugin(`${gw}/check_x`),
      `${gw} is writable by group (mode 0775); run chmod go-w on it`,
      "group-writable directory",
    );
    const ww = await t.mkdir(`${t.root}/ww`, 0o1777);
    await assertRefused(
      await t.plugin(`${ww}/check_x`),
      `${ww} is writable by group and others (mode 1777); run chmod go-w on it; ` +
        "a sticky directory like /tmp is not safe either",
      "sticky world-writable directory",
    );
    const nested = await t.mkdir(`${t.root}/gw2/deeper/still`);
    await Deno.chmod(`${t.root}/gw2`, 0o775);
    await assertRefused(
      await t.plugin(`${nested}/check_x`),
      `${t.root}/gw2 is writable by group (mode 0775); run chmod go-w on it`,
      "a bad directory several levels up",
    );
    const foreign = await t.plugin(`${good}/check_foreign`);
    await Deno.chown(foreign, NOBODY, NOBODY);
    await assertRefused(foreign, `${foreign} is owned by uid 65534, not by root`, "foreign file");
    const suid = await t.plugin(`${good}/check_suid`, 0o4755);
    await assertRefused(
      suid,
      `${suid} has the setuid bit (mode 4755); plugins run without privileges: run chmod ug-s on it`,
      "setuid root plugin",
    );
    // The case of issue 12: a directory another user (nobody) can write, with plugin_user root.
    const theirs = await t.mkdir(`${t.root}/theirs`);
    await Deno.chown(theirs, NOBODY, NOBODY);
    const swapped = await t.plugin(`${theirs}/check_x`);
    await assertRefused(swapped, `${theirs} is owned by uid 65534, not by root`, "nobody's dir");
    const asRootUser = await runPlugin({
      host: "h",
      test: "t",
      path: swapped,
      timeoutMs: 5_000,
      user: null,
    });
    assert.equal(asRootUser.state, "ERROR", "refused with plugin_user root too");

    // Links: every link and every directory of every target is checked.
    const toBad = `${good}/check_link_to_bad`;
    await Deno.symlink(`${gw}/check_x`, toBad);
    await assertRefused(
      toBad,
      `${gw} is writable by group (mode 0775); run chmod go-w on it`,
      "symlink into a bad directory",
    );
    const hop2 = await t.mkdir(`${t.root}/hop2`);
    await Deno.symlink("../good/check_ok", `${hop2}/check_b`); // relative
    await Deno.symlink(`${hop2}/check_b`, `${good}/check_a`); // absolute
    const chain = await run(`${good}/check_a`);
    assert.deepEqual([chain.status, chain.output], ["OK", "trusted"], "a good chain runs");
    await Deno.chmod(hop2, 0o777);
    await assertRefused(
      `${good}/check_a`,
      `${hop2} is writable by group and others (mode 0777); run chmod go-w on it`,
      "a chain whose second link sits in a bad directory",
    );
    await Deno.chmod(hop2, 0o755);
    const link = `${good}/check_their_link`;
    await Deno.symlink(ok, link);
    await new Deno.Command("chown", { args: ["-h", `${NOBODY}:${NOBODY}`, link] }).output();
    await assertRefused(
      link,
      `${link} is a symlink owned by uid 65534, not by root`,
      "a link owned by another user",
    );
    await Deno.symlink(`${good}/check_loop`, `${good}/check_loop`);
    await assertRefused(
      `${good}/check_loop`,
      `${good}/check_loop has too many levels of symbolic links`,
      "a link loop",
    );
    // /tmp itself is refused anywhere above a plugin, as OpenSSH does.
    const tmp = await Deno.makeTempDir({ prefix: "dmonitor-trust-tmp-" });
    try {
      const inTmp = await t.plugin(`${tmp}/check_x`);
      const why = (await run(inTmp)).output;
      assert.match(why, /: \/tmp is writable by group and others \(mode 1777\)/);
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  },
});

Deno.test({
  name: "trust: config check and run refuse the same plugins and commands with the same reasons",
  ignore: !isRoot,
  fn: async () => {
    await using t = await tree();
    const root = await t.mkdir(`${t.root}/etc-dmonitor`);
    for (const d of ["hosts.d/h1", "plugins", "alert.d"]) await t.mkdir(`${root}/${d}`);
    const ext = await t.mkdir(`${t.root}/ext`, 0o775);
    await Deno.writeTextFile(`${root}/dmonitor.yaml`, "node: n1\n");
    await t.plugin(`${root}/plugins/check_good`);
    await Deno.chown(await t.plugin(`${root}/plugins/check_foreign`), NOBODY, NOBODY);
    await t.plugin(`${root}/plugins/check_groupw`, 0o775);
    await t.plugin(`${root}/plugins/check_suid`, 0o4755);
    const extPlugin = await t.plugin(`${ext}/check_ext`);
    const tests: Record<string, string> = {
      good: "",
      foreign: "",
      groupw: "",
      suid: "",
      ext: `plugin: ${extPlugin}\n`,
    };
    for (const [name, text] of Object.entries(tests)) {
      await Deno.writeTextFile(`${root}/hosts.d/h1/${name}`, text);
    }
    const cmd = await t.plugin(`${root}/alert.d/pager.command`, 0o777);

    const lines: string[] = [];
    const code = await configCommand(["check", "--config", root], {
      out: (s) => lines.push(s),
      err: (s) => lines.push(s),
    });
    assert.equal(code, 1, lines.join("\n"));

    // What run refuses, with the same reason, is exactly what config check reports.
    const refused: string[] = [];
    for (const name of Object.keys(tests)) {
      const path = name === "ext" ? extPlugin : `${root}/plugins/check_${name}`;
      const r = await run(path);
      if (r.state !== "ERROR") continue;
      const reason = r.output.slice(`Cannot run plugin ${path}: `.length);
      refused.push(
        name === "ext"
          ? `${root}/hosts.d/h1/ext: 'plugin' ${reason}`
          : `${root}/plugins/check_${name}: ${reason}`,
      );
    }
    const unsafe = await checkExecutable(cmd, 0, { uid: NOBODY, gid: NOBODY });
    assert.ok(unsafe, "the command channel refuses the world-writable command");
    refused.push(`${root}/alert.d/pager.command: ${unsafe}`);
    assert.equal(refused.length, 5, refused.join("\n"));
    assert.deepEqual(lines.slice(0, -1).sort(), refused.sort());
    assert.equal(lines.at(-1), `${root}: 5 problems`);

    // Fixed, both agree again: config check passes and every plugin runs.
    for (const name of ["foreign", "groupw", "suid"]) {
      const p = `${root}/plugins/check_${name}`;
      await Deno.chown(p, 0, 0);
      await Deno.chmod(p, 0o755);
    }
    await Deno.chmod(ext, 0o755);
    await Deno.chmod(cmd, 0o755);
    assert.deepEqual(
      pluginTrustProblems({
        root,
        tests: [],
        alertFiles: { "alert.d/pager.command": "" },
        settings: { plugin_user: "nobody" },
      }),
      [],
    );
    const again: string[] = [];
    assert.equal(
      await configCommand(["check", "--config", root], {
        out: (s) => again.push(s),
        err: (s) => again.push(s),
      }),
      0,
      again.join("\n"),
    );
    for (const name of Object.keys(tests)) {
      const path = name === "ext" ? extPlugin : `${root}/plugins/check_${name}`;
      assert.equal((await run(path)).status, "OK", name);
    }
  },
});
