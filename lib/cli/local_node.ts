/**
 * Talking to the running node on this machine for commands that change it (`dmonitor silence`,
 * `dmonitor ack`): found through 'listen' in the tree, authenticated by the node's local token,
 * which only the node's user and root can read. Failures are one line for the user.
 * @module
 */
import { resolve } from "node:path";
import { ConfigError, formatProblemIn } from "../errors/mod.ts";
import { loadPeerTls } from "../peers/mod.ts";
import { LOCAL_TOKEN_FILE, readLocalToken } from "../status/local_token.ts";
import { loadNodeConfig } from "../node/load.ts";
import { statusUrl } from "./status.ts";

/** A request the node could not be asked, or refused: the message is the one line to print. */
export class LocalNodeError extends Error {
  override name = "LocalNodeError";
}

/** Calls the node's `path` with JSON; resolves to the parsed reply, or throws LocalNodeError. */
export async function callLocalNode(
  command: string,
  dir: string,
  method: "GET" | "POST",
  path: string,
  body?: unknown,
): Promise<Record<string, unknown>> {
  let config;
  try {
    config = await loadNodeConfig(dir);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    throw new LocalNodeError(
      e.problems.map((p) => `dmonitor ${command}: ${formatProblemIn(dir, p)}`).join("\n"),
    );
  }
  const stateDir = resolve(config.root, config.settings.state_dir);
  const token = await readLocalToken(stateDir);
  if (token === null) {
    throw new LocalNodeError(
      `dmonitor ${command}: cannot read the node's local token ${stateDir}/${LOCAL_TOKEN_FILE}: ` +
        "run this as the node's user or root, on the node, while 'dmonitor run' is running",
    );
  }
  const peer = config.sections.peer;
  const client = peer.tls ? (await loadPeerTls(peer)).client ?? undefined : undefined;
  const url = new URL(path, statusUrl(config.settings.listen, peer.tls !== null)).href;
  let res: Response;
  try {
    res = await fetch(url, {
      method,
      ...(client ? { client } : {}),
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(10_000),
    });
  } catch (e) {
    const err = e as Error;
    const detail = `${err.message} ${(err.cause as Error | undefined)?.message ?? ""}`;
    const why = err.name === "TimeoutError"
      ? "no answer within 10s"
      : /refused/i.test(detail)
      ? "connection refused"
      : detail.trim();
    throw new LocalNodeError(
      `dmonitor ${command}: cannot reach the node at ${url} ('listen' in ${dir}/dmonitor.yaml): ${why}; is 'dmonitor run' running?`,
    );
  } finally {
    client?.close();
  }
  let reply: unknown = null;
  try {
    reply = await res.json();
  } catch { /* below */ }
  const obj = typeof reply === "object" && reply !== null ? reply as Record<string, unknown> : null;
  if (!res.ok) {
    const why = typeof obj?.error === "string" ? obj.error : `HTTP ${res.status}`;
    throw new LocalNodeError(`dmonitor ${command}: the node refused: ${why}`);
  }
  if (obj === null) {
    throw new LocalNodeError(
      `dmonitor ${command}: ${url} answered without JSON; is that a dmonitor node of this version?`,
    );
  }
  return obj;
}

/** Who is acting: `--by`, else the user behind sudo, else the login name. */
export function actor(by: string | undefined): string {
  return by ?? Deno.env.get("SUDO_USER") ?? Deno.env.get("USER") ?? Deno.env.get("LOGNAME") ??
    "unknown";
}
