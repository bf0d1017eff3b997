/**
 * Plugin throughput: checks per second of the trivial `check_ok` plugin through the sandboxed
 * runner at concurrency 16, against `xargs -P16` running the same plugin. Target ratio >= 0.9.
 * Prints figures; asserts nothing.
 *
 * Besides wall-clock rates it prints CPU milliseconds per check (ours plus reaped children's, from
 * /proc/self/stat), which stays meaningful on a machine shared with other work.
 *
 *     deno run -A bench/plugin_throughput.ts [N=2000] [ROUNDS=3]
 * @module
 */
import { capture } from "../lib/runner/capture.ts";
import { trustedTempDir } from "../lib/runner/testing.ts";
import { OUTPUT_CAP, PluginRunner, resolveUser } from "../lib/runner/mod.ts";
import { chooseSpawn, type SpawnPath } from "../lib/runner/run.ts";
import { posixSpawnUnavailable } from "../lib/runner/spawn.ts";

const N = Number(Deno.args[0] ?? 2000);
const ROUNDS = Number(Deno.args[1] ?? 3);
const CONCURRENCY = 16;

/** A private 0755 copy of the plugin, whatever the checkout's umask was. */
async function setup(): Promise<{ dir: string; plugin: string }> {
  // Not under /tmp, which the runner's trust rules refuse above a plugin.
  const dir = await trustedTempDir("dmonitor-bench-");
  const plugin = `${dir}/check_ok`;
  await Deno.copyFile(new URL("../testdata/plugins/check_ok", import.meta.url), plugin);
  await Deno.chmod(plugin, 0o755);
  return { dir, plugin };
}

interface Measure {
  /** Checks per second, wall clock. */
  rate: number;
  /** CPU ms per check, this process and its reaped children. */
  cpu: number;
}

/** CPU seconds used by this process and its reaped children (Linux, USER_HZ = 100). */
function cpuSeconds(): number {
  const stat = Deno.readTextFileSync("/proc/self/stat");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ").map(Number);
  return (f[11]! + f[12]! + f[13]! + f[14]!) / 100;
}

async function measure(n: number, fn: () => Promise<void>): Promise<Measure> {
  const c0 = cpuSeconds();
  const t0 = performance.now();
  await fn();
  const seconds = (performance.now() - t0) / 1000;
  return { rate: n / seconds, cpu: ((cpuSeconds() - c0) * 1000) / n };
}

/** `sameUser`: no user switch (a node running as its own service user, or `plugin_user: root`).
 * `spawn`: force one of the runner's spawn paths (default: its choice, posix_spawn by FFI). */
async function viaRunner(
  plugin: string,
  n: number,
  sameUser = false,
  spawn?: SpawnPath,
): Promise<void> {
  const runner = new PluginRunner({
    concurrency: CONCURRENCY,
    ...(sameUser && Deno.uid() === 0 ? { user: null } : {}),
    ...(spawn ? { deps: { spawn } } : {}),
  });
  const results = await Promise.all(
    Array.from(
      { length: n },
      (_, i) => runner.run({ host: `h${i}`, test: "ok", path: plugin, timeoutMs: 10_000 }),
    ),
  );
  const bad = results.filter((r) => r.status !== "OK");
  if (bad.length > 0) throw new Error(`${bad.length} runs failed, first: ${bad[0]!.output}`);
}

/**
 * The same spawn options and output capture as the runner (new session, user switch when root)
 * without its checks, timers and kills, to tell the runner's own cost from Deno's: in Deno 2.9.6 `detached`, `uid` and `gid` make
 * it fork(2) the whole runtime instead of using posix_spawn, and fork time grows with our RSS.
 */
async function viaBareSpawn(plugin: string, n: number): Promise<void> {
  const user = Deno.uid() === 0 ? await resolveUser("nobody") : null;
  let next = 0;
  const worker = async () => {
    while (next++ < n) {
      const child = new Deno.Command(plugin, {
        args: ["h"],
        cwd: "/",
        clearEnv: true,
        env: { PATH: "/usr/bin:/bin" },
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
        detached: true,
        ...(user ? { uid: user.uid, gid: user.gid } : {}),
      }).spawn();
      const pipes = [
        capture(child.stdout, OUTPUT_CAP).done,
        capture(child.stderr, OUTPUT_CAP).done,
      ];
      const [status] = await Promise.all([child.status, ...pipes]);
      if (!status.success) throw new Error(`bare spawn failed with exit code ${status.code}`);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
}

/** xargs reads the numbers from its stdin, so no shell is involved here either. */
async function viaXargs(plugin: string, n: number): Promise<void> {
  const child = new Deno.Command("xargs", {
    args: [`-P${CONCURRENCY}`, "-n1", plugin],
    stdin: "piped",
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(Array.from({ length: n }, (_, i) => i).join("\n")));
  await writer.close();
  const status = await child.status;
  if (!status.success) throw new Error(`xargs failed with exit code ${status.code}`);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const show = (m: Measure) => `${m.rate.toFixed(0)} checks/s (${m.cpu.toFixed(2)} CPU ms/check)`;

const { dir, plugin } = await setup();
const root = Deno.uid() === 0;
/** Each way the runner can start a plugin, then the two baselines. */
type Way = [string, (n: number) => Promise<void>];
const ways: Way[] = [
  [root ? "runner, posix_spawn, user switch" : "runner, posix_spawn", (n) => viaRunner(plugin, n)],
  ...(root
    ? [["runner, posix_spawn, no switch", (n: number) => viaRunner(plugin, n, true)] as Way]
    : []),
  ["runner, setsid program, no switch", (n) => viaRunner(plugin, n, true, "setsid")],
  [
    root ? "runner, Deno detached, user switch" : "runner, Deno detached",
    (n) => viaRunner(plugin, n, false, "detached"),
  ],
  ["bare Deno.Command detached", (n) => viaBareSpawn(plugin, n)],
  [`xargs -P${CONCURRENCY}`, (n) => viaXargs(plugin, n)],
];
try {
  const spawn = chooseSpawn(root ? { uid: 65534, gid: 65534 } : null);
  if (spawn !== "posix_spawn") {
    console.log(`note: the runner falls back to ${spawn}: ${posixSpawnUnavailable()}`);
  }
  for (const [, fn] of ways) await fn(100);
  const got = ways.map(() => [] as Measure[]);
  for (let round = 1; round <= ROUNDS; round++) {
    // Interleaved, so drift on a shared machine hits every way alike.
    for (const [i, [, fn]] of ways.entries()) got[i]!.push(await measure(N, () => fn(N)));
    console.log(
      `round ${round}: ` + ways.map(([name], i) => `${name} ${show(got[i]!.at(-1)!)}`).join("; "),
    );
  }
  const mid = (ms: Measure[]) => ({
    rate: median(ms.map((m) => m.rate)),
    cpu: median(ms.map((m) => m.cpu)),
  });
  const mids = got.map(mid);
  const x = mids.at(-1)!;
  const who = root ? "root, plugins as nobody unless 'no switch'" : `uid ${Deno.uid()}`;
  console.log(
    `plugin throughput, N=${N}, concurrency ${CONCURRENCY}, median of ${ROUNDS} (${who}):`,
  );
  for (const [i, [name]] of ways.entries()) {
    const m = mids[i]!;
    const ratio = i === ways.length - 1
      ? ""
      : `  ratio ${(m.rate / x.rate).toFixed(2)} wall, ${(x.cpu / m.cpu).toFixed(2)} CPU`;
    console.log(`  ${name.padEnd(36)} ${show(m)}${ratio}`);
  }
  console.log("  target: the first line >= 0.90 by wall clock and by CPU per check");
} finally {
  await Deno.remove(dir, { recursive: true });
}
