/**
 * Hidden entry point for benchmarks and interop runs, so a server can run as its own process
 * (its peak RSS is then readable from /proc) without main.ts:
 * `deno run -A lib/tentacle/server_main.ts -s DIR -p PORT ...` (same flags as tentacle-server;
 * `--client` as the first argument runs the client instead). Like main.ts, it is the one place that
 * reads Deno.args and turns errors into an exit code.
 * @module
 */

import { UsageError } from "../errors/mod.ts";
import { tentacleClientMain, tentacleServerMain } from "./cli.ts";

if (import.meta.main) {
  const [first, ...more] = Deno.args;
  try {
    const code = first === "--client"
      ? await tentacleClientMain(more)
      : await tentacleServerMain([...Deno.args]);
    Deno.exit(code);
  } catch (e) {
    console.error(e instanceof UsageError ? e.message : String(e));
    Deno.exit(e instanceof UsageError ? 64 : 1);
  }
}
