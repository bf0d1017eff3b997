/**
 * dmonitor's entry point: the only place that reads Deno.args, prints fatal errors and exits.
 * @module
 */
import { main, stdio } from "./lib/cli/mod.ts";
import { ConfigError, UsageError } from "./lib/errors/mod.ts";

if (import.meta.main) {
  let code: number;
  try {
    code = await main(Deno.args, stdio);
  } catch (e) {
    if (e instanceof UsageError) {
      stdio.err(e.message);
      code = 64;
    } else if (e instanceof ConfigError) {
      stdio.err(e.message);
      code = 1;
    } else {
      // Not a user mistake: keep the detail, but still one line unless debugging.
      const detail = Deno.env.get("DMONITOR_LOG_LEVEL") === "debug"
        ? (e as Error).stack
        : (e as Error).message;
      stdio.err(`dmonitor: ${detail}`);
      code = 1;
    }
  }
  Deno.exit(code);
}
