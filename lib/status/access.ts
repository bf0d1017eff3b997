/**
 * Who may read the status page, the JSON view and the metrics: clients whose address falls in
 * `status.allow` (loopback by default), or anyone presenting the token in `status.token_file`.
 * Address matching is pure; {@link loadStatusAccess} reads the token file.
 * @module
 */
import { resolve } from "node:path";
import { ConfigError, type ConfigProblem } from "../errors/mod.ts";
import { constantTimeEqual } from "../secret/mod.ts";
import { cidrContains } from "./cidr.ts";
import type { StatusSettings } from "./settings.ts";
import { LIMITS, readTreeText, treeFileDetail, TreeFileError } from "../fsafe/mod.ts";

export { addressBytes, type Cidr, cidrContains, parseCidr } from "./cidr.ts";

/** The resolved access rules the HTTP routes enforce. */
export interface StatusAccess {
  settings: StatusSettings;
  /** The token from `token_file`, or null when none is configured. */
  token: string | null;
  /** The running node's own token (`<state_dir>/status.token`, see local_token.ts). */
  localToken?: string | null;
}

/** Decides one request: allowed by address, by token, or not at all. Pure. */
export function isAllowed(
  access: StatusAccess,
  remoteIp: string | null,
  token: string | null,
): boolean {
  if (remoteIp !== null && access.settings.allow.some((n) => cidrContains(n, remoteIp))) {
    return true;
  }
  if (token === null) return false;
  if (access.localToken && constantTimeEqual(access.localToken, token)) return true;
  return access.token !== null && constantTimeEqual(access.token, token);
}

/** A token shorter than this is guessable. */
export const MIN_TOKEN_LENGTH = 16;

/**
 * Reads the token file of the parsed `status:` settings (relative paths in the tree at `root`);
 * throws one ConfigError naming dmonitor.yaml, the key and the value for every problem.
 */
export async function loadStatusAccess(
  settings: StatusSettings,
  root: string,
): Promise<StatusAccess> {
  const problems: ConfigProblem[] = [];
  let token: string | null = null;
  if (settings.tokenFile !== null) {
    const path = resolve(root, settings.tokenFile);
    const fail = (message: string) =>
      problems.push({ file: "dmonitor.yaml", key: "status.token_file", message });
    try {
      const st = await Deno.stat(path);
      const text = (await readTreeText(path, { maxBytes: LIMITS.secret })).trim();
      if (text.length < MIN_TOKEN_LENGTH || /\s/.test(text)) {
        fail(
          `must name a file holding one token of at least ${MIN_TOKEN_LENGTH} characters without spaces, ` +
            `got ${JSON.stringify(settings.tokenFile)} (${text.length} characters)`,
        );
      } else if (st.mode !== null && (st.mode & 0o077) !== 0) {
        fail(
          `must name a file not readable by group or others (chmod 600 ${path}), got ` +
            `${JSON.stringify(settings.tokenFile)} with mode ${
              (st.mode & 0o777).toString(8).padStart(4, "0")
            }`,
        );
      } else token = text;
    } catch (e) {
      const missing = e instanceof Deno.errors.NotFound ||
        (e instanceof TreeFileError && e.reason === "missing");
      const why = missing
        ? "no such file"
        : e instanceof TreeFileError
        ? treeFileDetail(e)
        : (e as Error).message;
      fail(`cannot be read (${why}: ${path}), got ${JSON.stringify(settings.tokenFile)}`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return { settings, token };
}
