/**
 * install.sh into a staged root with a locally built artefact (a stand-in that runs the bundled
 * program, because deno compile cannot fetch its runtime here): every file, mode and owner; a
 * second run changes nothing; upgrades keep the user's configuration; uninstall and purge;
 * download, architecture detection and the refusals. And the systemd unit passes
 * `systemd-analyze verify`.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { ROOT } from "./util.ts";
import { run, snapshot, standIn } from "./ops_util.ts";
import { BUILTIN_CHECKS } from "../lib/checks/mod.ts";

const INSTALL = join(ROOT, "install.sh");

async function artefact(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "dmonitor-artefact-" });
  await Deno.chmod(dir, 0o755);
  return await standIn(dir);
}

async function stage(): Promise<string> {
  const s = await Deno.makeTempDir({ prefix: "dmonitor-stage-" });
  await Deno.chmod(s, 0o755);
  return s;
}

function sh(args: string[], env: Record<string, string> = {}, shell = ["sh"]) {
  return run(shell[0]!, [...shell.slice(1), INSTALL, ...args], {
    env: { PATH: Deno.env.get("PATH")!, ...env },
    clearEnv: true,
  });
}

async function ids(root: string): Promise<{ uid: number; gid: number }> {
  const line = (await Deno.readTextFile(join(root, "etc/passwd"))).split("\n").find((l) =>
    l.startsWith("dmonitor:")
  );
  assert.ok(line, "the dmonitor user exists in the staged /etc/passwd");
  const f = line.split(":");
  return { uid: Number(f[2]), gid: Number(f[3]) };
}

async function entry(path: string): Promise<string> {
  const st = await Deno.lstat(path);
  return `${st.isDirectory ? "d" : "f"} ${
    (st.mode! & 0o7777).toString(8).padStart(4, "0")
  } ${st.uid}:${st.gid}`;
}

Deno.test("install.sh", async (t) => {
  if (Deno.uid() !== 0) {
    throw new Error("the install tests need root (they create users in a staged root)");
  }
  const bin = await artefact();

  await t.step("installs every file with its mode and owner into a staged root", async () => {
    const s = await stage();
    const r = await sh([`DESTDIR=${s}`, bin]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /not enabling or starting dmonitor\.service/);
    const { uid, gid } = await ids(s);
    assert.ok(uid > 0 && uid < 1000, `a system uid, got ${uid}`);
    const user = (await Deno.readTextFile(join(s, "etc/passwd"))).split("\n").find((l) =>
      l.startsWith("dmonitor:")
    )!;
    assert.match(user, /^dmonitor:[^:]*:\d+:\d+:[^:]*:\/var\/lib\/dmonitor:\/usr\/sbin\/nologin$/);
    const d = `${uid}:${gid}`;
    const want: Record<string, string> = {
      "usr/local/bin/dmonitor": "f 0755 0:0",
      "etc/dmonitor": "d 0755 0:0",
      "etc/dmonitor/dmonitor.yaml": "f 0644 0:0",
      "etc/dmonitor/nodes.txt": "f 0644 0:0",
      "etc/dmonitor/hosts.d": "d 0755 0:0",
      "etc/dmonitor/hosts.d/localhost": "d 0755 0:0",
      "etc/dmonitor/hosts.d/localhost/ping": "f 0644 0:0",
      "etc/dmonitor/alert.d": "d 0755 0:0",
      "etc/dmonitor/plugins": "d 0755 0:0",
      "etc/dmonitor/peer.key": `f 0600 ${d}`,
      "var/lib/dmonitor": `d 0750 ${d}`,
      "etc/systemd/system/dmonitor.service": "f 0644 0:0",
    };
    for await (const p of Deno.readDir(join(ROOT, "plugins"))) {
      if (!p.name.startsWith("check_")) continue;
      // Script versions of built-in checks would replace them: they are shipped as examples.
      const example = BUILTIN_CHECKS.has(p.name.slice("check_".length));
      if (example) {
        want["etc/dmonitor/examples"] = want["etc/dmonitor/examples/plugins"] = "d 0755 0:0";
      }
      want[`etc/dmonitor/${example ? "examples/plugins" : "plugins"}/${p.name}`] = "f 0755 0:0";
    }
    for (const [path, mode] of Object.entries(want)) {
      assert.equal(await entry(join(s, path)), mode, path);
    }
    // Nothing else: the tree holds exactly these (plus the staged passwd/group and parent dirs).
    const all = [...(await snapshot(s)).keys()].map((p) => p.slice(1)).filter((p) =>
      !/^(etc|usr|usr\/local|usr\/local\/bin|var|var\/lib|etc\/systemd|etc\/systemd\/system|etc\/passwd|etc\/group)$/
        .test(p)
    );
    assert.deepEqual(all.sort(), Object.keys(want).sort());

    assert.match(
      await Deno.readTextFile(join(s, "etc/dmonitor/peer.key")),
      /^[A-Za-z0-9_-]{43}\n$/,
    );
    assert.equal(
      await Deno.readTextFile(join(s, "etc/systemd/system/dmonitor.service")),
      await Deno.readTextFile(join(ROOT, "packaging/dmonitor.service")),
      "the unit install.sh writes is packaging/dmonitor.service",
    );
    const check = await run(join(s, "usr/local/bin/dmonitor"), [
      "config",
      "check",
      "--config",
      join(s, "etc/dmonitor"),
    ]);
    assert.equal(check.code, 0, check.stderr);
    assert.match(check.stdout, /OK: node \S+, 1 hosts, 1 tests/);

    // A second run (this time under busybox sh) changes nothing at all.
    const before = await snapshot(s);
    const again = await sh([`DESTDIR=${s}`, bin], {}, ["busybox", "sh"]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /unchanged .*\/usr\/local\/bin\/dmonitor/);
    assert.match(again.stdout, /kept the configuration in .*\/etc\/dmonitor as it is/);
    assert.deepEqual(await snapshot(s), before);
  });

  await t.step("never overwrites a user's configuration; replaces a changed binary", async () => {
    const s = await stage();
    assert.equal((await sh([`DESTDIR=${s}`, bin])).code, 0);
    await Deno.writeTextFile(join(s, "etc/dmonitor/dmonitor.yaml"), "node: mine\n");
    await Deno.remove(join(s, "etc/dmonitor/hosts.d/localhost"), { recursive: true });
    const key = await Deno.readTextFile(join(s, "etc/dmonitor/peer.key"));
    const newer = join(await Deno.makeTempDir(), "dmonitor");
    await Deno.writeTextFile(newer, (await Deno.readTextFile(bin)) + "# a newer build\n", {
      mode: 0o755,
    });
    const r = await sh([`DESTDIR=${s}`, newer]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /installed .*\/usr\/local\/bin\/dmonitor/);
    assert.match(await Deno.readTextFile(join(s, "usr/local/bin/dmonitor")), /# a newer build/);
    assert.equal(await Deno.readTextFile(join(s, "etc/dmonitor/dmonitor.yaml")), "node: mine\n");
    await assert.rejects(
      Deno.stat(join(s, "etc/dmonitor/hosts.d/localhost")),
      Deno.errors.NotFound,
    );
    assert.equal(await Deno.readTextFile(join(s, "etc/dmonitor/peer.key")), key);
  });

  await t.step(
    "--prefix puts the binary and the unit's ExecStart under it; piped from curl works",
    async () => {
      const s = await stage();
      const script = await Deno.readTextFile(INSTALL);
      const r = await run("sh", [
        "-c",
        `curl -fsSL file://${INSTALL} | sh -s -- --prefix /opt/dmonitor`,
      ], {
        env: { PATH: Deno.env.get("PATH")!, DESTDIR: s, DMONITOR_URL: `file://${bin}` },
        clearEnv: true,
      });
      assert.equal(r.code, 0, r.stderr);
      assert.ok(script.length > 0);
      assert.match(r.stdout, /downloading file:\/\//);
      assert.equal(await entry(join(s, "opt/dmonitor/bin/dmonitor")), "f 0755 0:0");
      const unit = await Deno.readTextFile(join(s, "etc/systemd/system/dmonitor.service"));
      assert.match(
        unit,
        /^ExecStart=\/opt\/dmonitor\/bin\/dmonitor run --config \/etc\/dmonitor$/m,
      );
      await assert.rejects(Deno.stat(join(s, "usr/local/bin/dmonitor")), Deno.errors.NotFound);
    },
  );

  await t.step(
    "detects the architecture for the release download, refuses unknown ones",
    async () => {
      const rel = await Deno.makeTempDir();
      await Deno.copyFile(bin, join(rel, "dmonitor-linux-x86_64"));
      await Deno.chmod(join(rel, "dmonitor-linux-x86_64"), 0o755);
      const shim = await Deno.makeTempDir();
      const withArch = (m: string) => {
        Deno.writeTextFileSync(
          join(shim, "uname"),
          `#!/bin/sh\n[ "$1" = -m ] && echo ${m} || exec /bin/uname "$@"\n`,
        );
        Deno.chmodSync(join(shim, "uname"), 0o755);
        return { PATH: `${shim}:${Deno.env.get("PATH")}`, DMONITOR_RELEASE_BASE: `file://${rel}` };
      };
      const s = await stage();
      const ok = await run("sh", [INSTALL, `DESTDIR=${s}`], {
        env: withArch("x86_64"),
        clearEnv: true,
      });
      assert.equal(ok.code, 0, ok.stderr);
      assert.match(ok.stdout, new RegExp(`downloading file://${rel}/dmonitor-linux-x86_64`));
      const arm = await run("sh", [INSTALL, `DESTDIR=${await stage()}`], {
        env: withArch("aarch64"),
        clearEnv: true,
      });
      assert.equal(arm.code, 1);
      assert.equal(
        arm.stderr,
        `install.sh: cannot download file://${rel}/dmonitor-linux-aarch64 (set DMONITOR_URL, or give a local binary: ` +
          "sh install.sh ./dmonitor-linux-aarch64)\n",
      );
      const mips = await run("sh", [INSTALL, `DESTDIR=${await stage()}`], {
        env: withArch("mips"),
        clearEnv: true,
      });
      assert.equal(mips.code, 1);
      assert.equal(
        mips.stderr,
        "install.sh: unsupported architecture 'mips': dmonitor is released for x86_64 and aarch64 Linux\n",
      );
    },
  );

  await t.step(
    "--uninstall keeps configuration, state and user; --purge removes them",
    async () => {
      const s = await stage();
      assert.equal((await sh([`DESTDIR=${s}`, bin])).code, 0);
      await Deno.writeTextFile(join(s, "var/lib/dmonitor/state.db"), "x");
      const u = await sh(["--uninstall", `DESTDIR=${s}`]);
      assert.equal(u.code, 0, u.stderr);
      await assert.rejects(Deno.stat(join(s, "usr/local/bin/dmonitor")), Deno.errors.NotFound);
      await assert.rejects(
        Deno.stat(join(s, "etc/systemd/system/dmonitor.service")),
        Deno.errors.NotFound,
      );
      assert.ok((await Deno.stat(join(s, "etc/dmonitor/peer.key"))).isFile);
      assert.ok((await Deno.stat(join(s, "var/lib/dmonitor/state.db"))).isFile);
      await ids(s);
      assert.match(
        u.stdout,
        /kept .*\/etc\/dmonitor, .*\/var\/lib\/dmonitor and the dmonitor user/,
      );
      const p = await sh(["--uninstall", "--purge", `DESTDIR=${s}`]);
      assert.equal(p.code, 0, p.stderr);
      await assert.rejects(Deno.stat(join(s, "etc/dmonitor")), Deno.errors.NotFound);
      await assert.rejects(Deno.stat(join(s, "var/lib/dmonitor")), Deno.errors.NotFound);
      assert.doesNotMatch(await Deno.readTextFile(join(s, "etc/passwd")), /^dmonitor:/m);
      assert.doesNotMatch(await Deno.readTextFile(join(s, "etc/group")), /^dmonitor:/m);
    },
  );

  await t.step(
    "refuses clearly: not root, no systemd, not a dmonitor binary, bad flags",
    async () => {
      const s = await stage();
      const nobody = await run("setpriv", [
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "sh",
        INSTALL,
        bin,
      ], {
        env: { PATH: Deno.env.get("PATH")! },
        clearEnv: true,
      });
      assert.equal(nobody.code, 1);
      assert.match(nobody.stderr, /^install\.sh: must run as root .*sudo sh install\.sh\)\n$/);

      let systemd = true;
      try {
        await Deno.stat("/run/systemd/system");
      } catch {
        systemd = false;
      }
      if (!systemd) {
        // Safe here: the refusal comes before anything is touched.
        const r = await sh([bin]);
        assert.equal(r.code, 1);
        assert.match(
          r.stderr,
          /^install\.sh: systemd is not running on this machine .*--no-systemd.*DESTDIR=DIR\n$/,
        );
      }

      const junk = join(await Deno.makeTempDir(), "junk");
      await Deno.writeTextFile(junk, "#!/bin/sh\necho hello\n", { mode: 0o755 });
      const j = await sh([`DESTDIR=${s}`, junk]);
      assert.equal(j.code, 1);
      assert.match(j.stderr, /is not a dmonitor binary that runs on this machine/);
      await assert.rejects(Deno.stat(join(s, "usr")), Deno.errors.NotFound, "nothing installed");

      const bad = await sh(["--frobnicate"]);
      assert.equal(bad.code, 1);
      assert.equal(
        bad.stderr,
        "install.sh: unknown option '--frobnicate' (see 'sh install.sh --help')\n",
      );
      const purge = await sh(["--purge"]);
      assert.equal(purge.stderr, "install.sh: --purge only goes with --uninstall\n");
      const help = await sh(["--help"]);
      assert.equal(help.code, 0);
      assert.match(help.stdout, /^Usage: sh install\.sh/);
    },
  );

  await t.step("--no-systemd installs everything but the unit", async () => {
    const s = await stage();
    const r = await sh([`DESTDIR=${s}`, "--no-systemd", bin]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /no systemd unit installed/);
    await assert.rejects(Deno.stat(join(s, "etc/systemd")), Deno.errors.NotFound);
    assert.ok((await Deno.stat(join(s, "etc/dmonitor/peer.key"))).isFile);
  });
});

Deno.test("the systemd unit passes systemd-analyze verify and is hardened", async () => {
  const unit = await Deno.readTextFile(join(ROOT, "packaging/dmonitor.service"));
  for (
    const line of [
      "User=dmonitor",
      "Restart=on-failure",
      "ExecReload=/bin/kill -HUP $MAINPID",
      "NoNewPrivileges=yes",
      "ProtectSystem=strict",
      "ProtectHome=read-only",
      "PrivateTmp=yes",
      "ReadWritePaths=/var/lib/dmonitor",
      "CapabilityBoundingSet=CAP_NET_RAW",
      "AmbientCapabilities=CAP_NET_RAW",
    ]
  ) assert.ok(unit.split("\n").includes(line), line);
  // What plugins need, kept open on purpose (README, "systemd unit"): check_procs sees every
  // process, check_disk sees /home.
  assert.doesNotMatch(unit, /^(ProtectProc|ProcSubset)=/m);
  // verify checks that ExecStart exists, so point it at an executable that does.
  const dir = await Deno.makeTempDir();
  const exe = join(dir, "dmonitor");
  await Deno.writeTextFile(exe, "#!/bin/sh\n", { mode: 0o755 });
  await Deno.chmod(exe, 0o755);
  await Deno.writeTextFile(
    join(dir, "dmonitor.service"),
    unit.replace("ExecStart=/usr/local/bin/dmonitor ", `ExecStart=${exe} `),
  );
  const r = await run("systemd-analyze", ["verify", join(dir, "dmonitor.service")], {
    env: { SYSTEMD_LOG_COLOR: "0" },
  });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout + r.stderr, "", "no warnings (unknown keys, bad values)");
  const sec = await run("systemd-analyze", [
    "security",
    "--offline=true",
    join(dir, "dmonitor.service"),
  ]);
  const score = /Overall exposure level for dmonitor\.service: (\d+\.\d+)/.exec(sec.stdout)?.[1];
  assert.ok(
    score !== undefined && Number(score) <= 2.5,
    `exposure ${score} (systemd's scale: 0 best, 10 worst)`,
  );
});

Deno.test("install.sh and packaging/build.sh are POSIX sh (shellcheck)", async () => {
  const r = await run("shellcheck", [
    "--shell=sh",
    "--severity=style",
    "install.sh",
    "packaging/build.sh",
  ], { cwd: ROOT });
  assert.equal(r.code, 0, r.stdout + r.stderr);
});
