/**
 * `ping`: runs the system `ping` (iputils or busybox) without a shell and passes when at least
 * one echo reply came back, so a single lost packet on a lossy link is not an outage. Loss and
 * round-trip time are in the output and perfdata.
 * @module
 */
import type { BuiltinCheck, CheckContext, CheckOutcome } from "./types.ts";
import { abortText, defineCheck, errorText, fail, ok, oneLine, quote } from "./util.ts";

/** Where `ping` is looked for after `$PATH`: the node may run with a minimal PATH. */
const FALLBACK_DIRS = ["/usr/bin", "/bin", "/usr/sbin", "/sbin"];

export interface PingSummary {
  transmitted: number;
  received: number;
  /** Average round-trip time in ms, when any reply came back. */
  avgMs?: number;
}

/** Parses the statistics block of iputils or busybox ping (pure). Null when there is none. */
export function parsePingOutput(text: string): PingSummary | null {
  const counts = /(\d+) packets transmitted, (\d+) (?:packets )?received/.exec(text);
  if (!counts) return null;
  const s: PingSummary = { transmitted: Number(counts[1]), received: Number(counts[2]) };
  // iputils: "rtt min/avg/max/mdev = 0.04/0.05/0.06/0.01 ms"; busybox: "round-trip min/avg/max = ..."
  const rtt = /(?:rtt|round-trip) min\/avg\/max(?:\/mdev)? = [\d.]+\/([\d.]+)\//.exec(text);
  if (rtt) s.avgMs = Number(rtt[1]);
  return s;
}

/** Decides a parsed summary (pure). */
export function judgePing(host: string, s: PingSummary): CheckOutcome {
  const loss = s.transmitted > 0 ? Math.round(100 * (1 - s.received / s.transmitted)) : 100;
  const rta = s.avgMs === undefined ? "" : `, rtt avg ${s.avgMs.toFixed(3)} ms`;
  const perf = (s.avgMs === undefined ? "" : `rta=${(s.avgMs / 1000).toFixed(6)}s `) +
    `pl=${loss}%`;
  const line = `${host}: ${s.received}/${s.transmitted} replies, ${loss}% loss${rta}`;
  return s.received > 0 ? ok(line, perf) : fail(line, perf);
}

/** The first executable `ping` in `dirs`, or null. */
export async function findPing(dirs: string[]): Promise<string | null> {
  for (const dir of dirs) {
    if (!dir.startsWith("/")) continue; // a relative PATH entry would depend on the cwd
    const path = `${dir.replace(/\/+$/, "")}/ping`;
    try {
      const st = await Deno.stat(path);
      if (st.isFile && st.mode !== null && (st.mode & 0o111) !== 0) return path;
    } catch { /* not here */ }
  }
  return null;
}

function defaultDirs(): string[] {
  let path = "";
  try {
    path = Deno.env.get("PATH") ?? "";
  } catch { /* no --allow-env: the fallback directories still work */ }
  return [...path.split(":").filter(Boolean), ...FALLBACK_DIRS];
}

export interface PingOptions {
  /** Directories searched for `ping`, in order (default: $PATH, then /usr/bin, /bin, /usr/sbin, /sbin). */
  dirs?: string[];
}

/** Creates the ping check; tests pass `dirs` to substitute a fake `ping`. */
export function createPingCheck(opts: PingOptions = {}): BuiltinCheck {
  const check = defineCheck({
    name: "ping",
    doc: "Runs the system ping; OK when at least one echo reply comes back.",
    params: {
      count: {
        type: "int",
        default: 3,
        min: 1,
        max: 20,
        doc: "Echo requests to send, 0.2 s apart.",
      },
      wait: {
        type: "int",
        default: 1,
        min: 1,
        max: 30,
        doc: "Seconds to wait for a reply after the last request (ping -W).",
      },
    },
  }, (ctx, p) => runPing(ctx, p.int("count"), p.int("wait"), opts.dirs ?? defaultDirs()));
  return check;
}

async function runPing(
  ctx: CheckContext,
  count: number,
  wait: number,
  dirs: string[],
): Promise<CheckOutcome> {
  // Config validation forbids such hosts; refuse anyway rather than hand ping an option.
  if (ctx.host.startsWith("-")) return fail(`refusing to ping ${quote(ctx.host)}`);
  const ping = await findPing(dirs);
  if (!ping) {
    return fail(`no ping command found (looked in ${dirs.join(":")}); install iputils-ping`);
  }
  // -n: no reverse lookups (slow, and they could leave the machine); -q: only the summary.
  const args = ["-n", "-q", "-c", String(count), "-i", "0.2", "-W", String(wait), ctx.host];
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(ping, {
      args,
      clearEnv: true,
      env: { PATH: "/usr/bin:/bin:/usr/sbin:/sbin", LC_ALL: "C" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      // Its own process group, so an abort kills ping and anything it may have started.
      detached: true,
    }).spawn();
  } catch (e) {
    return fail(`cannot run ${ping}: ${errorText(e)}`);
  }
  const kill = () => {
    try {
      Deno.kill(-child.pid, "SIGKILL");
    } catch { /* already exited */ }
  };
  ctx.signal.addEventListener("abort", kill, { once: true });
  if (ctx.signal.aborted) kill();
  try {
    const out = await child.output();
    if (ctx.signal.aborted) return fail(`${abortText(ctx)} pinging ${ctx.host}`);
    const dec = new TextDecoder();
    // ping's own output is a few lines; cap anyway so a broken binary cannot flood memory.
    const stdout = dec.decode(out.stdout.subarray(0, 65536));
    const summary = parsePingOutput(stdout);
    if (summary) return judgePing(ctx.host, summary);
    const err = oneLine(dec.decode(out.stderr.subarray(0, 4096)).split("\n")[0] ?? "");
    return fail(`${ping} ${ctx.host} exited with code ${out.code}${err ? `: ${err}` : ""}`);
  } finally {
    ctx.signal.removeEventListener("abort", kill);
  }
}

/** The ping check as registered in BUILTIN_CHECKS. */
export const ping: BuiltinCheck = createPingCheck();
