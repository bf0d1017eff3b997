/**
 * Runs one configured test, whatever executes it (plugin or built-in), under the node's shared
 * concurrency cap, with its timeout and retries, and always returns a {@link CheckResult}.
 * @module
 */
import type { TestConfig } from "../config/types.ts";
import type { BuiltinCheck } from "../checks/types.ts";
import { Limiter, type RunAs, type RunDeps, runPlugin } from "../runner/mod.ts";
import { sanitizeLine } from "../runner/parse.ts";
import type { CheckResult } from "../runner/result.ts";

export interface ExecutorDeps {
  limiter: Limiter;
  builtins: ReadonlyMap<string, BuiltinCheck>;
  /** Who plugins run as when the node is root. */
  user?: RunAs | null;
  now?: () => number;
  /** Node shutdown: aborts running checks. */
  signal?: AbortSignal;
  runDeps?: RunDeps;
}

export type Executor = (test: TestConfig) => Promise<CheckResult>;

/** Replaces `{host}`, `{test}` and `{<param>}` in plugin arguments; unknown names stay as written. */
export function substituteArgs(
  args: string[],
  t: Pick<TestConfig, "host" | "test" | "params">,
): string[] {
  const vars: Record<string, string> = { host: t.host, test: t.test };
  for (const [k, v] of Object.entries(t.params)) vars[k] = String(v);
  return args.map((a) =>
    a.replace(/\{([a-z_][a-z0-9_]*)\}/g, (m, name: string) => vars[name] ?? m)
  );
}

/** Runs a built-in check with a hard deadline, even if the check ignored its signal. */
export async function runBuiltin(
  check: BuiltinCheck,
  t: TestConfig,
  now: () => number,
  parent?: AbortSignal,
): Promise<CheckResult> {
  const startedAt = now();
  const base = { host: t.host, test: t.test, perfdata: "", exitCode: null, startedAt };
  const ctl = new AbortController();
  const signal = parent ? AbortSignal.any([ctl.signal, parent]) : ctl.signal;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => {
      ctl.abort(new DOMException("check timed out", "TimeoutError"));
      resolve("timeout");
    }, t.timeout);
  });
  try {
    const outcome = await Promise.race([
      check.run({
        host: t.host,
        test: t.test,
        intervalMs: t.interval,
        params: t.params,
        signal,
        timeoutMs: t.timeout,
      }),
      deadline,
    ]);
    const durationMs = now() - startedAt;
    if (outcome === "timeout") {
      return {
        ...base,
        status: "TIMEOUT",
        state: "TIMEOUT",
        output: `timed out after ${t.timeout / 1000}s`,
        durationMs,
      };
    }
    return {
      ...base,
      status: outcome.status,
      state: outcome.status,
      output: sanitizeLine(outcome.output).slice(0, 1024),
      perfdata: outcome.perfdata ?? "",
      durationMs,
    };
  } catch (e) {
    // A check that throws is a bug in the check, but the node must go on: report it as a failure.
    return {
      ...base,
      status: "FAIL",
      state: "ERROR",
      output: `check error: ${sanitizeLine(String(e))}`,
      durationMs: now() - startedAt,
    };
  } finally {
    clearTimeout(timer);
  }
}

/** Creates the executor the scheduler, `dmonitor check` and peer confirmations share. */
export function createExecutor(deps: ExecutorDeps): Executor {
  const now = deps.now ?? Date.now;
  const once = (t: TestConfig): Promise<CheckResult> => {
    const ex = t.executor;
    if (ex.kind === "plugin") {
      return runPlugin({
        host: t.host,
        test: t.test,
        path: ex.path,
        args: ex.args ? substituteArgs(ex.args, t) : [t.host],
        params: t.params,
        timeoutMs: t.timeout,
        warning: t.warning,
        unknown: t.unknown,
        user: deps.user,
      }, { ...deps.runDeps, now, signal: deps.signal });
    }
    const check = deps.builtins.get(ex.name);
    if (!check) {
      return Promise.resolve({
        host: t.host,
        test: t.test,
        status: "FAIL",
        state: "ERROR",
        output: `no built-in check named '${ex.name}'`,
        perfdata: "",
        exitCode: null,
        startedAt: now(),
        durationMs: 0,
      });
    }
    return runBuiltin(check, t, now, deps.signal);
  };
  return (t) =>
    deps.limiter.run(`${t.host}\0${t.test}`, async () => {
      let r = await once(t);
      for (let i = 0; i < t.retries && r.status !== "OK" && !deps.signal?.aborted; i++) {
        r = await once(t);
      }
      return r;
    });
}
