/**
 * The Debian package for real (`make test-deb`, or DMONITOR_DEB_TEST=1; skipped otherwise because
 * it takes minutes): `make deb` builds both architectures, lintian passes, and the amd64 package
 * is installed, reinstalled, upgraded from a previous build, removed and purged with dpkg in
 * throw-away Debian roots made by debootstrap (the pristine root is cached as a tarball in
 * /var/cache/dmonitor-test, so only the first run downloads it from this machine's Debian mirror).
 */
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { ROOT } from "./util.ts";
import { type Ran, run } from "./ops_util.ts";

const ENABLED = Deno.env.get("DMONITOR_DEB_TEST") === "1";
const CACHE = Deno.env.get("DMONITOR_TEST_CACHE") ?? "/var/cache/dmonitor-test";
const ARCH = Deno.build.arch === "x86_64" ? "amd64" : "arm64";
const PATH = "/usr/sbin:/usr/bin:/sbin:/bin";
const LONG = 15 * 60_000;

async function mustRun(cmd: string, args: string[], opts: Parameters<typeof run>[2] = {}) {
  const r = await run(cmd, args, { timeoutMs: LONG, ...opts });
  assert.equal(r.code, 0, `${cmd} ${args.join(" ")}:\n${r.stdout}\n${r.stderr}`);
  return r;
}

/** The mirror this machine's apt uses (so debootstrap reaches what apt-get reaches). */
async function mirror(): Promise<string> {
  for (const f of ["/etc/apt/sources.list.d/debian.sources", "/etc/apt/sources.list"]) {
    const text = await Deno.readTextFile(f).catch(() => "");
    const m = /^URIs:\s*(\S+\/debian)\s*$/m.exec(text) ??
      /^deb\s+(?:\[[^\]]*\]\s+)?(\S+\/debian)\/?\s/m.exec(text);
    if (m) return m[1]!;
  }
  return "http://deb.debian.org/debian";
}

async function codename(): Promise<string> {
  const os = await Deno.readTextFile("/etc/os-release");
  return /^VERSION_CODENAME=(\S+)$/m.exec(os)?.[1] ?? "bookworm";
}

/** A pristine minbase root (plus what the package depends on), cached as a tarball. */
async function pristineTarball(): Promise<string> {
  const suite = await codename();
  const tar = join(CACHE, `debian-${suite}-minbase-${ARCH}.tar`);
  try {
    await Deno.stat(tar);
    return tar;
  } catch { /* first run: make it */ }
  await Deno.mkdir(CACHE, { recursive: true });
  const dir = await Deno.makeTempDir({ dir: CACHE, prefix: "bootstrap-" });
  try {
    await mustRun("debootstrap", [
      "--variant=minbase",
      "--include=adduser,init-system-helpers",
      suite,
      dir,
      await mirror(),
    ]);
    await mustRun("tar", ["-C", dir, "-cf", `${tar}.tmp`, "."]);
    await Deno.rename(`${tar}.tmp`, tar);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  return tar;
}

/** A throw-away Debian root with /proc mounted; unmounted and deleted on dispose. */
async function debianRoot() {
  const tar = await pristineTarball();
  const dir = await Deno.makeTempDir({ prefix: "dmonitor-deb-root-" });
  await mustRun("tar", ["-C", dir, "-xf", tar]);
  await Deno.chmod(dir, 0o755); // the root's own "/" (makeTempDir makes it 0700)
  await mustRun("mount", ["-t", "proc", "proc", join(dir, "proc")]);
  const sh = (script: string, opts: { user?: string } = {}): Promise<Ran> => {
    const args = opts.user
      ? [
        dir,
        "setpriv",
        `--reuid=${opts.user}`,
        `--regid=${opts.user}`,
        "--clear-groups",
        "/bin/sh",
        "-c",
        script,
      ]
      : [dir, "/bin/sh", "-c", script];
    return run("chroot", args, {
      env: { PATH, HOME: "/root", LANG: "C.UTF-8" },
      clearEnv: true,
      timeoutMs: 300_000,
    });
  };
  return {
    dir,
    sh,
    /** Runs a script in the root and fails the test unless it exits 0; returns stdout. */
    async ok(script: string, opts: { user?: string } = {}): Promise<string> {
      const r = await sh(script, opts);
      assert.equal(r.code, 0, `${script}:\n${r.stdout}\n${r.stderr}`);
      return r.stdout;
    },
    path: (p: string) => join(dir, p),
    /** Mode, owner (the root's own names) and type of a path in the root. */
    stat: (p: string) =>
      sh(`stat -c '%a %U:%G %F' /${p}`).then((r) => r.stdout.trim() || r.stderr.trim()),
    async [Symbol.asyncDispose]() {
      await run("umount", ["-l", join(dir, "proc")]);
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** Every path in the root (no /proc, /tmp, dpkg's own database and logs). */
async function paths(root: string): Promise<Set<string>> {
  const r = await mustRun("find", [
    ".",
    "-xdev",
    "(",
    "-path",
    "./proc",
    "-o",
    "-path",
    "./tmp",
    ")",
    "-prune",
    "-o",
    "-print",
  ], { cwd: root });
  return new Set(r.stdout.split("\n").filter((l) => l !== ""));
}

/** Repacks `deb` as version `version` with `edit` applied to its staged tree: a previous build. */
async function repack(
  deb: string,
  version: string,
  edit: (tree: string) => Promise<void>,
): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "dmonitor-deb-old-" });
  const tree = join(dir, "tree");
  await mustRun("dpkg-deb", ["-R", deb, tree]);
  await edit(tree);
  const control = join(tree, "DEBIAN/control");
  await Deno.writeTextFile(
    control,
    (await Deno.readTextFile(control)).replace(/^Version: .*$/m, `Version: ${version}`),
  );
  const sums = await mustRun("sh", [
    "-c",
    "find . -path ./DEBIAN -prune -o -type f -printf '%P\\0' | LC_ALL=C sort -z | xargs -0 md5sum",
  ], { cwd: tree });
  await Deno.writeTextFile(join(tree, "DEBIAN/md5sums"), sums.stdout);
  const out = join(dir, `dmonitor_${version}_${ARCH}.deb`);
  await mustRun("dpkg-deb", ["--root-owner-group", "-Zgzip", "-b", tree, out]);
  return out;
}

Deno.test({
  name:
    "make deb: both architectures build, lintian passes, and dpkg installs, upgrades, removes and purges it",
  ignore: !ENABLED,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    const version = (await Deno.readTextFile(join(ROOT, "lib/cli/version.ts"))).match(
      /VERSION = "(.*)"/,
    )![1]!;
    const debs = { amd64: "", arm64: "" };
    const work = await Deno.makeTempDir({ prefix: "dmonitor-deb-test-" });

    await t.step("make deb builds dist/dmonitor_<version>_{amd64,arm64}.deb", async () => {
      // The bundle flavour: this machine cannot run deno compile (no denort download).
      const r = await mustRun("make", ["-s", "deb"], {
        cwd: ROOT,
        env: { DEB_FLAVOUR: "bundle", DEB_VERSION: "" },
      });
      for (const arch of ["amd64", "arm64"] as const) {
        const built = join(ROOT, `dist/dmonitor_${version}_${arch}.deb`);
        assert.match(
          r.stderr,
          new RegExp(`built dist/dmonitor_${version}_${arch}\\.deb \\(bundle`),
        );
        debs[arch] = join(work, `dmonitor_${version}_${arch}.deb`);
        await Deno.copyFile(built, debs[arch]);
        const info = await mustRun("dpkg-deb", [
          "-f",
          debs[arch],
          "Package",
          "Version",
          "Architecture",
          "Depends",
        ]);
        assert.match(
          info.stdout,
          new RegExp(`^Package: dmonitor\nVersion: ${version}\nArchitecture: ${arch}\n`),
        );
        assert.match(info.stdout, /Depends: adduser, init-system-helpers .*libc6 \(>= 2\.\d+\)/);
        const x = join(work, `x-${arch}`);
        await mustRun("dpkg-deb", ["-x", debs[arch], x]);
        const elf = await mustRun("readelf", ["-h", join(x, "usr/lib/dmonitor/deno")]);
        assert.match(elf.stdout, arch === "amd64" ? /X86-64/ : /AArch64/);
        assert.equal(
          await Deno.readTextFile(join(x, "usr/lib/dmonitor/flavour")),
          `bundle deno ${Deno.version.deno}\n`,
        );
        const conffiles = await mustRun("dpkg-deb", ["-I", debs[arch], "conffiles"]);
        assert.match(conffiles.stdout, /^\/etc\/dmonitor\/dmonitor\.yaml$/m);
        assert.match(conffiles.stdout, /^\/etc\/dmonitor\/nodes\.txt$/m);
        assert.match(conffiles.stdout, /^\/etc\/dmonitor\/plugins\/check_disk$/m);
        assert.match(conffiles.stdout, /^\/etc\/default\/dmonitor-tentacle$/m);
        assert.doesNotMatch(conffiles.stdout, /peer\.key/);
      }
    });

    await t.step("lintian is clean (every override carries its reason)", async () => {
      for (const deb of [debs.amd64, debs.arm64]) {
        const r = await run("lintian", [
          "--info",
          "--pedantic",
          "--fail-on",
          "error,warning,info,pedantic",
          deb,
        ], { timeoutMs: LONG });
        assert.equal(r.code, 0, r.stdout + r.stderr);
        assert.doesNotMatch(r.stdout, /^[EWIP]: /m, r.stdout);
      }
    });

    await t.step("the units pass systemd-analyze verify", async () => {
      // Verified on this machine (the Debian root has no systemd), with the programs and the man
      // page the units name resolved inside the extracted package.
      const x = join(work, `x-${ARCH}`);
      const units = join(work, "units");
      await Deno.mkdir(units);
      for (const unit of ["dmonitor.service", "dmonitor-tentacle.service"]) {
        const text = await Deno.readTextFile(join(x, "lib/systemd/system", unit));
        await Deno.writeTextFile(
          join(units, unit),
          text.replaceAll("=/usr/bin/dmonitor", `=${x}/usr/bin/dmonitor`)
            .replaceAll("=/usr/lib/dmonitor/", `=${x}/usr/lib/dmonitor/`),
        );
        const r = await run("systemd-analyze", ["verify", join(units, unit)], {
          env: { MANPATH: join(x, "usr/share/man") },
        });
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stderr, "", "no warning either");
      }
      const main = await Deno.readTextFile(join(x, "lib/systemd/system/dmonitor.service"));
      assert.match(main, /^ExecStart=\/usr\/bin\/dmonitor run --config \/etc\/dmonitor$/m);
      const tentacle = await Deno.readTextFile(
        join(x, "lib/systemd/system/dmonitor-tentacle.service"),
      );
      assert.match(tentacle, /^ExecStart=\/usr\/lib\/dmonitor\/tentacle-serverd$/m);
    });

    await t.step(
      "install into a fresh Debian root: user, files, modes, peer.key, units; it runs",
      async (s) => {
        await using root = await debianRoot();
        const before = await paths(root.dir);
        await Deno.copyFile(debs[ARCH as "amd64"], root.path("tmp/dmonitor.deb"));
        await root.ok("dpkg -i /tmp/dmonitor.deb </dev/null");

        const pw = (await root.ok("getent passwd dmonitor")).trim().split(":");
        assert.equal(pw[0], "dmonitor");
        assert.ok(Number(pw[2]) < 1000, `a system uid, got ${pw[2]}`);
        assert.deepEqual([pw[5], pw[6]], ["/var/lib/dmonitor", "/usr/sbin/nologin"]);
        assert.match(await root.ok("getent group dmonitor"), /^dmonitor:x:\d+:/);

        assert.equal(await root.stat("usr/bin/dmonitor"), "755 root:root regular file");
        assert.equal(await root.stat("usr/lib/dmonitor/deno"), "755 root:root regular file");
        assert.equal(await root.stat("etc/dmonitor"), "755 root:root directory");
        assert.equal(await root.stat("etc/dmonitor/dmonitor.yaml"), "644 root:root regular file");
        assert.equal(await root.stat("etc/dmonitor/alert.d"), "755 root:root directory");
        assert.equal(
          await root.stat("etc/dmonitor/plugins/check_disk"),
          "755 root:root regular file",
        );
        assert.equal(
          await root.stat("etc/dmonitor/peer.key"),
          "600 dmonitor:dmonitor regular file",
        );
        assert.equal(await root.stat("var/lib/dmonitor"), "750 dmonitor:dmonitor directory");
        assert.equal(
          await root.stat("usr/share/doc/dmonitor/changelog.gz"),
          "644 root:root regular file",
        );
        assert.match(await root.ok("zcat /usr/share/doc/dmonitor/changelog.gz"), /^dmonitor \(\d/);
        assert.match(await root.ok("zcat /usr/share/man/man1/dmonitor.1.gz"), /^\.TH DMONITOR 1/m);
        const key = await Deno.readTextFile(root.path("etc/dmonitor/peer.key"));
        assert.match(key, /^[A-Za-z0-9_-]{43}\n$/);
        assert.equal(
          await Deno.readTextFile(root.path("etc/dmonitor/nodes.txt")),
          await Deno.readTextFile(join(ROOT, "packaging/example/nodes.txt")),
        );
        assert.match(
          await Deno.readTextFile(root.path("etc/dmonitor/dmonitor.yaml")),
          /^# dmonitor settings/,
        );

        // Enabled (no systemd runs in the root, so nothing was started); the Tentacle server is not.
        const wants = root.path("etc/systemd/system/multi-user.target.wants");
        assert.equal(
          await Deno.readLink(join(wants, "dmonitor.service")),
          "/lib/systemd/system/dmonitor.service",
        );
        await assert.rejects(Deno.lstat(join(wants, "dmonitor-tentacle.service")));

        assert.equal(await root.ok("dmonitor version"), `dmonitor ${version}\n`);
        // As the service runs it: user dmonitor reads the tree and its peer.key.
        const check = await root.ok("dmonitor config check", { user: "dmonitor" });
        assert.match(
          check,
          /^\/etc\/dmonitor: OK: node \S+, 1 hosts, 1 tests, 0 peers \(single-node mode\)/,
        );
        assert.match(
          await root.ok("dmonitor --help"),
          /^dmonitor \S+: a distributed service monitor/,
        );
        const bad = await root.sh("dmonitor frobnicate");
        assert.equal(bad.code, 64);
        assert.equal(
          bad.stderr,
          `dmonitor: unknown command "frobnicate" (see 'dmonitor --help')\n`,
        );

        await s.step("the node runs from the package as dmonitor and answers", async () => {
          await root.ok(
            "cp -a /etc/dmonitor /tmp/conf && chown -R dmonitor: /tmp/conf && printf 'listen: 127.0.80.1:29291\\nstate_dir: /var/lib/dmonitor\\ninterval: 1s\\ntimeout: 900ms\\n' >/tmp/conf/dmonitor.yaml",
          );
          const node = new Deno.Command("chroot", {
            args: [
              root.dir,
              "setpriv",
              "--reuid=dmonitor",
              "--regid=dmonitor",
              "--clear-groups",
              "dmonitor",
              "run",
              "--config",
              "/tmp/conf",
            ],
            env: { PATH, HOME: "/var/lib/dmonitor" },
            clearEnv: true,
            stdin: "null",
            stdout: "null",
            stderr: "piped",
          }).spawn();
          try {
            let view: { checks: { host: string; test: string }[] } | null = null;
            for (let i = 0; i < 200 && !view?.checks?.length; i++) {
              await new Promise((r) => setTimeout(r, 100));
              view = await fetch("http://127.0.80.1:29291/v1/status").then((r) => r.json()).catch(
                () => null,
              );
            }
            assert.ok(
              view?.checks.some((c) => c.host === "localhost" && c.test === "ping"),
              JSON.stringify(view),
            );
          } finally {
            node.kill("SIGTERM");
            const st = await node.status;
            const log = await new Response(node.stderr).text();
            assert.equal(st.code, 0, log);
            assert.doesNotMatch(log, /NotCapable|Requires .* access/, log);
          }
          assert.ok((await Deno.stat(root.path("var/lib/dmonitor/state.db"))).isFile);
          // The runtime wrote nothing of its own (no Deno cache in the state directory or home).
          await assert.rejects(Deno.lstat(root.path("var/lib/dmonitor/.cache")));
        });

        await s.step(
          "dmonitor-tentacle's start script reads TENTACLE_EXT_OPTS as tentacle_serverd does",
          async () => {
            await root.ok("mkdir -p /tmp/tin/conf && chown -R dmonitor: /tmp/tin");
            await Deno.writeTextFile(
              root.path("tmp/tentacle.default"),
              'TENTACLE_ADDR="127.0.80.2"\nTENTACLE_PORT="41199"\nTENTACLE_INCOMING_DIR="/tmp/tin"\nTENTACLE_EXT_OPTS="-i.*\\.conf:conf -o"\n',
            );
            const server = new Deno.Command("chroot", {
              args: [
                root.dir,
                "setpriv",
                "--reuid=dmonitor",
                "--regid=dmonitor",
                "--clear-groups",
                "/usr/lib/dmonitor/tentacle-serverd",
              ],
              env: { PATH, DMONITOR_TENTACLE_DEFAULTS: "/tmp/tentacle.default" },
              clearEnv: true,
              stdin: "null",
              stdout: "null",
              stderr: "piped",
            }).spawn();
            try {
              await Deno.writeTextFile(join(work, "agent.conf"), "hello\n");
              let sent: Ran | null = null;
              for (let i = 0; i < 100 && sent?.code !== 0; i++) {
                await new Promise((r) => setTimeout(r, 100));
                sent = await run(Deno.execPath(), [
                  "run",
                  "-A",
                  join(ROOT, "main.ts"),
                  "tentacle-client",
                  "-a",
                  "127.0.80.2",
                  "-p",
                  "41199",
                  "agent.conf",
                ], { cwd: work });
              }
              assert.equal(sent?.code, 0, sent?.stderr);
              // The -i filter from TENTACLE_EXT_OPTS put it into conf/.
              assert.equal(
                await Deno.readTextFile(root.path("tmp/tin/conf/agent.conf")),
                "hello\n",
              );
            } finally {
              server.kill("SIGTERM");
              await server.status;
              await server.stderr.cancel();
            }
          },
        );

        await s.step("a second dpkg -i changes nothing", async () => {
          await Deno.writeTextFile(
            root.path("etc/dmonitor/dmonitor.yaml"),
            "# edited by the administrator\n",
            {
              append: true,
            },
          );
          const yaml = await Deno.readTextFile(root.path("etc/dmonitor/dmonitor.yaml"));
          await root.ok("dpkg -i /tmp/dmonitor.deb </dev/null");
          assert.equal(await Deno.readTextFile(root.path("etc/dmonitor/peer.key")), key);
          assert.equal(await Deno.readTextFile(root.path("etc/dmonitor/dmonitor.yaml")), yaml);
          assert.equal(await root.ok("ls -A /etc/dmonitor | grep -c dpkg || true"), "0\n");
        });

        await s.step(
          "remove keeps the configuration; purge leaves nothing of dmonitor",
          async () => {
            await root.ok("dpkg -r dmonitor </dev/null");
            await assert.rejects(Deno.lstat(root.path("usr/bin/dmonitor")));
            await assert.rejects(Deno.lstat(root.path("usr/lib/dmonitor")));
            assert.equal(await Deno.readTextFile(root.path("etc/dmonitor/peer.key")), key);
            assert.equal(
              await Deno.readLink(root.path("etc/systemd/system/dmonitor.service")),
              "/dev/null",
            );
            assert.match(
              await root.ok("dpkg-query -W -f='${db:Status-Status}' dmonitor"),
              /^config-files$/,
            );
            await root.ok("dpkg -P dmonitor </dev/null");
            await Deno.remove(root.path("tmp/dmonitor.deb"));
            const after = await paths(root.dir);
            const added = [...after].filter((p) => !before.has(p));
            // dpkg's own bookkeeping may add these; nothing else may stay.
            // dpkg's and adduser's own bookkeeping (README, "Debian package"): backups of the account files
            // (they name the user until the next account change) and adduser's lock file in /run.
            const expected = new Set([
              "./var/lib/dpkg/status-old",
              "./var/lib/dpkg/diversions-old",
              "./var/lib/dpkg/statoverride-old",
              "./etc/shadow-",
              "./etc/gshadow-",
              "./run/adduser",
            ]);
            assert.deepEqual(
              added.filter((p) => !expected.has(p)),
              [],
              `left behind: ${added.join(" ")}`,
            );
            assert.deepEqual([...after].filter((p) => /dmonitor/.test(p)), []);
            for (
              const f of [
                "etc/passwd",
                "etc/group",
                "etc/shadow",
                "etc/gshadow",
                "var/lib/dpkg/statoverride",
              ]
            ) {
              assert.doesNotMatch(
                await Deno.readTextFile(root.path(f)).catch(() => ""),
                /dmonitor/,
                f,
              );
            }
            assert.equal((await root.sh("dpkg-query -W dmonitor")).code, 1);
          },
        );
      },
    );

    await t.step(
      "upgrade from the previous build: edits kept without a prompt, unedited conffiles replaced",
      async () => {
        await using root = await debianRoot();
        const old = await repack(debs[ARCH as "amd64"], "0.0.9", async (tree) => {
          // The previous release shipped other comments in nodes.txt and the tentacle defaults.
          await Deno.writeTextFile(join(tree, "etc/dmonitor/nodes.txt"), "# nodes, the old way\n");
          await Deno.writeTextFile(
            join(tree, "etc/default/dmonitor-tentacle"),
            "TENTACLE_PORT=41121\n",
          );
        });
        await Deno.copyFile(old, root.path("tmp/old.deb"));
        await Deno.remove(dirname(old), { recursive: true });
        await Deno.copyFile(debs[ARCH as "amd64"], root.path("tmp/new.deb"));
        await root.ok("dpkg -i /tmp/old.deb </dev/null");
        const key = await Deno.readTextFile(root.path("etc/dmonitor/peer.key"));
        const yamlPath = root.path("etc/dmonitor/dmonitor.yaml");
        const edited = (await Deno.readTextFile(yamlPath)).replace("#node: alpha", "node: alpha");
        assert.match(edited, /^node: alpha$/m);
        await Deno.writeTextFile(yamlPath, edited);
        // The administrator removed the example test; dpkg must not bring it back.
        await Deno.remove(root.path("etc/dmonitor/hosts.d/localhost/ping"));

        // stdin is /dev/null and no --force-conf* option: a conffile prompt would fail the upgrade.
        const up = await root.sh("dpkg -i /tmp/new.deb </dev/null");
        assert.equal(up.code, 0, up.stdout + up.stderr);
        assert.doesNotMatch(
          up.stdout + up.stderr,
          /Configuration file .* modified|dpkg-dist|dpkg-old/,
        );
        assert.equal(await Deno.readTextFile(yamlPath), edited);
        assert.equal(
          await Deno.readTextFile(root.path("etc/dmonitor/nodes.txt")),
          await Deno.readTextFile(join(ROOT, "packaging/example/nodes.txt")),
        );
        assert.equal(
          await Deno.readTextFile(root.path("etc/default/dmonitor-tentacle")),
          await Deno.readTextFile(join(ROOT, "packaging/deb/dmonitor-tentacle.default")),
        );
        await assert.rejects(Deno.lstat(root.path("etc/dmonitor/hosts.d/localhost/ping")));
        assert.equal(await Deno.readTextFile(root.path("etc/dmonitor/peer.key")), key);
        assert.equal(await root.ok("find /etc -name '*.dpkg-*' | wc -l"), "0\n");
        assert.equal(await root.ok("dpkg-query -W -f='${Version}' dmonitor"), version);
        assert.match(
          await root.ok("dmonitor config check", { user: "dmonitor" }),
          /^\/etc\/dmonitor: OK: node alpha, 0 hosts, 0 tests/,
        );
      },
    );
    await Deno.remove(work, { recursive: true });
  },
});
