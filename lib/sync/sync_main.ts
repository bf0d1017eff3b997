/**
 * Hidden entry point for tests and benchmarks, so the puller can run (and be killed) as its own
 * process before `dmonitor sync` is wired into main.ts: `deno run -A lib/sync/sync_main.ts
 * [--config DIR] [--once] [--pandora-conf FILE]`. Like main.ts, the one place here that reads
 * Deno.args and turns errors into an exit code.
 * @module
 */
import { syncCommand } from "../cli/sync.ts";
import { stdio } from "../cli/args.ts";
import { ConfigError, UsageError } from "../errors/mod.ts";

if (import.meta.main) {
  let code: number;
  try {
    code = await syncCommand(Deno.args, stdio);
  } catch (e) {
    stdio.err(
      e instanceof UsageError || e instanceof ConfigError
        ? e.message
        : `dmonitor sync: ${(e as Error).message}`,
    );
    code = e instanceof UsageError ? 64 : 1;
  }
  Deno.exit(code);
}
