/**
 * `dmonitor status`: asks the running node for its status view over its own listener and prints
 * it, the same view the page and the JSON show.
 * @module
 */
import { loadPeerTls } from "../peers/mod.ts";
import { resolve } from "node:path";
import { DEFAULT_CONFIG_DIR } from "../config/mod.ts";
import { ConfigError, formatProblemIn, UsageError } from "../errors/mod.ts";
import { readLocalToken } from "../status/local_token.ts";
import { renderText } from "../status/text.ts";
import type { StatusView } from "../status/types.ts";
import { type Io, parseFlags, stdio } from "./args.ts";
import { loadNodeConfig, type NodeConfig } from "../node/load.ts";
import { LIMITS, readTreeText } from "../fsafe/mod.ts";

export const STATUS_USAGE = `Usage: dmonitor status [--config DIR] [--json] [--url URL]

Prints the running node's status: every check with its state and last output, open incidents and
who saw what, peers, remote sites and recent incidents. The node is found through 'listen' in
DIR/dmonitor.yaml (default ${DEFAULT_CONFIG_DIR}; 0.0.0.0 and :: mean this machine's loopback), and
the token in 'status.token_file' is sent when one is configured. --url names the node instead,
e.g. http://127.0.0.1:2929. --json prints the view as JSON.
Exit status: 0 when no check is down, 2 when any is, 1 when the node cannot be asked, 64 on a
usage error.`;

/** The URL of the node's status JSON, from its `listen` address. Pure. */
export function statusUrl(listen: { hostname: string; port: number }, tls = false): string {
  const h = listen.hostname;
  const host = h === "0.0.0.0" || h === ""
    ? "127.0.0.1"
    : h === "::"
    ? "[::1]"
    : h.includes(":")
    ? `[${h}]`
    : h;
  return `${tls ? "https" : "http"}://${host}:${listen.port}/v1/status`;
}

async function readToken(config: NodeConfig): Promise<string | null> {
  // On the node itself, its own token (readable by the node's user and root) always works.
  const local = await readLocalToken(resolve(config.root, config.settings.state_dir));
  if (local !== null) return local;
  const s = config.sections.status;
  if (s.tokenFile === null) return null;
  try {
    const path = resolve(config.root, s.tokenFile);
    return (await readTreeText(path, { maxBytes: LIMITS.secret })).trim() || null;
  } catch {
    return null; // Not readable by this user: try without; a refusal is explained below.
  }
}

function isView(v: unknown): v is StatusView {
  const o = v as StatusView;
  return typeof v === "object" && v !== null && typeof o.node === "string" &&
    Array.isArray(o.checks) &&
    Array.isArray(o.peers) && Array.isArray(o.incidents);
}

export async function statusCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseFlags("status", args, {
    config: { type: "string", short: "c" },
    json: { type: "boolean" },
    url: { type: "string" },
  });
  if (values.help) {
    io.out(STATUS_USAGE);
    return 0;
  }
  if (positionals.length > 0) {
    throw new UsageError(
      `dmonitor status: unexpected argument ${
        JSON.stringify(positionals[0])
      } (see 'dmonitor status --help')`,
    );
  }
  let url: string;
  let client: Deno.HttpClient | undefined;
  let token: string | null = null;
  let where: string;
  if (values.url !== undefined) {
    let u: URL;
    try {
      u = new URL(values.url);
    } catch {
      throw new UsageError(
        `dmonitor status: --url must be a URL such as http://127.0.0.1:2929, got ${
          JSON.stringify(values.url)
        }`,
      );
    }
    url = new URL("/v1/status", u).href;
    where = "--url";
  } else {
    const dir = values.config ?? DEFAULT_CONFIG_DIR;
    let config: NodeConfig;
    try {
      config = await loadNodeConfig(dir);
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      for (const p of e.problems) {
        io.err(`dmonitor status: ${formatProblemIn(dir, p)}`);
      }
      return 1;
    }
    // With peer TLS the listener speaks https only, under the certificate peers verify.
    const peer = config.sections.peer;
    if (peer.tls) client = (await loadPeerTls(peer)).client ?? undefined;
    url = statusUrl(config.settings.listen, peer.tls !== null);
    token = await readToken(config);
    where = `'listen' in ${dir}/dmonitor.yaml`;
  }

  let res: Response;
  try {
    res = await fetch(url, {
      ...(client ? { client } : {}),
      headers: token ? { authorization: `Bearer ${token}` } : {},
      signal: AbortSignal.timeout(5000),
    });
  } catch (e) {
    const err = e as Error;
    const detail = `${err.message} ${(err.cause as Error | undefined)?.message ?? ""}`;
    const why = err.name === "TimeoutError"
      ? "no answer within 5s"
      : /refused/i.test(detail)
      ? "connection refused"
      : detail.trim();
    io.err(
      `dmonitor status: cannot reach the node at ${url} (${where}): ${why}; is 'dmonitor run' running?`,
    );
    return 1;
  }
  if (res.status === 403) {
    await res.body?.cancel();
    io.err(
      `dmonitor status: the node at ${url} refused the request (403): ask from an address in 'status.allow' or configure 'status.token_file' readable by this user`,
    );
    return 1;
  }
  let view: unknown;
  try {
    view = res.ok ? await res.json() : (await res.body?.cancel(), null);
  } catch {
    view = null;
  }
  if (!res.ok || !isView(view)) {
    io.err(
      `dmonitor status: ${url} answered ${res.status} ${res.statusText} without a dmonitor status view; is that a dmonitor node of this version?`,
    );
    return 1;
  }
  // JSON escapes C0 but leaves DEL and C1 (0x9b is a CSI to some terminals) raw: escape them too.
  if (values.json) {
    io.out(
      JSON.stringify(view, null, 2).replace(
        /[\x7f-\x9f]/g,
        (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
      ),
    );
  } else {
    const colour = io === stdio && Deno.stdout.isTerminal() && !Deno.env.get("NO_COLOR");
    io.out(renderText(view, { colour }));
  }
  return view.checks.some((c) => c.status === "FAIL" || c.status === "TIMEOUT") ? 2 : 0;
}
