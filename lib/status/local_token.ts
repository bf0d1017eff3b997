/**
 * The node's local status credential: a random token the running node writes to
 * `<state_dir>/status.token` (mode 0600, so only the node's own user and root can read it) and
 * accepts besides `status.allow` and `status.token_file`. `dmonitor status` run on the node
 * presents it, so asking the node itself always works, whatever `listen` binds; anyone who can
 * read it could read the state database beside it anyway.
 * @module
 */
import { join } from "node:path";

export const LOCAL_TOKEN_FILE = "status.token";

/** Writes a fresh token (at every start) and returns it. */
export async function writeLocalToken(stateDir: string): Promise<string> {
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  const token = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  const path = join(stateDir, LOCAL_TOKEN_FILE);
  const tmp = `${path}.${crypto.randomUUID()}.tmp`;
  await Deno.writeTextFile(tmp, token + "\n", { mode: 0o600, createNew: true });
  await Deno.chmod(tmp, 0o600);
  await Deno.rename(tmp, path);
  return token;
}

/** The token of a node running with this state directory, or null when this user cannot read it. */
export async function readLocalToken(stateDir: string): Promise<string | null> {
  try {
    return (await Deno.readTextFile(join(stateDir, LOCAL_TOKEN_FILE))).trim() || null;
  } catch {
    return null;
  }
}
