/**
 * The files the `store:` section names, read at start before the node drops root like the other
 * secrets ({@link loadPgFiles}), and how messages name the store. Apart from ./connect.ts so that a
 * node reads its settings without loading `npm:pg` and the Node modules it needs
 * (tests/module_graph_test.ts): the driver comes with the first store opened.
 * @module
 */
import { ConfigError, type ConfigProblem } from "../errors/mod.ts";
import type { PgSettings } from "./settings.ts";

/** What `openPg` (./connect.ts) needs: the settings and the contents of the files they name. */
export interface PgConnect {
  settings: PgSettings;
  password?: string;
  tls?: { ca?: string; cert?: string; key?: string };
}

/** Reads `password_file` and the TLS files; throws ConfigError naming the key and the file. */
export async function loadPgFiles(s: PgSettings): Promise<PgConnect> {
  const problems: ConfigProblem[] = [];
  const read = async (key: string, path: string | undefined) => {
    if (path === undefined) return undefined;
    try {
      return await Deno.readTextFile(path);
    } catch (e) {
      problems.push({
        file: "dmonitor.yaml",
        key: `store.${key}`,
        message: `cannot read "${path}": ${(e as Error).message}`,
      });
      return undefined;
    }
  };
  const [pw, ca, cert, key] = await Promise.all([
    read("password_file", s.passwordFile),
    read("tls_ca", s.tls?.caFile),
    read("tls_cert", s.tls?.certFile),
    read("tls_key", s.tls?.keyFile),
  ]);
  const password = pw === undefined ? s.password : pw.split("\n")[0]!.replace(/\r$/, "");
  if (pw !== undefined && password === "") {
    problems.push({
      file: "dmonitor.yaml",
      key: "store.password_file",
      message: `"${s.passwordFile}" is empty (its first line is the password)`,
    });
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return { settings: s, password, tls: s.tls ? { ca, cert, key } : undefined };
}

/** Where the store is, for messages (never the password). */
export function describePg(s: PgSettings): string {
  const where = s.path ? `socket ${s.path}` : `${s.host}:${s.port}`;
  return `postgresql ${s.user}@${where}/${s.database}`;
}
