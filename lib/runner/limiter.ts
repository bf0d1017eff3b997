/**
 * A concurrency cap with per-key deduplication, and the plugin runner built on it.
 *
 * Same key twice: the second request **joins** the run already queued or running and gets its
 * result; it does not start another run nor queue one behind it. A check that is still running
 * when it falls due again is usually slow because its target is struggling; a second copy would
 * add load there, and a queued copy would produce a second result moments after the first. Joining
 * gives every caller (scheduler, `dmonitor check`, a peer asking) the freshest result there will
 * be. The price: a joiner's own spec is ignored, so a run started before a config reload reports
 * with the old parameters; the next run uses the new ones.
 * @module
 */
import type { CheckResult } from "./result.ts";
import { type PluginSpec, type RunDeps, runPlugin } from "./run.ts";
import type { RunAs } from "./safety.ts";
import { resolveUser } from "./user.ts";

/** Runs at most `concurrency` tasks at once, first come first served, one per key. */
export class Limiter {
  readonly concurrency: number;
  #active = 0;
  readonly #waiting: (() => void)[] = [];
  readonly #inflight = new Map<string, Promise<unknown>>();

  constructor(concurrency: number) {
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new RangeError(
        `Cannot create limiter: concurrency must be an integer >= 1, got ${concurrency}`,
      );
    }
    this.concurrency = concurrency;
  }

  /** Tasks running now. */
  get active(): number {
    return this.#active;
  }

  /** Tasks waiting for a slot. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /** True while a task for `key` is queued or running. */
  has(key: string): boolean {
    return this.#inflight.has(key);
  }

  /** Runs `task` when a slot is free, or joins the task already queued or running for `key`. */
  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const existing = this.#inflight.get(key);
    if (existing) return existing as Promise<T>;
    const run = this.#schedule(task).finally(() => this.#inflight.delete(key));
    this.#inflight.set(key, run);
    return run;
  }

  async #schedule<T>(task: () => Promise<T>): Promise<T> {
    if (this.#active < this.concurrency) this.#active++;
    // The releasing task hands its slot over without decrementing, so no newcomer can jump in.
    else await new Promise<void>((resolve) => this.#waiting.push(resolve));
    try {
      return await task();
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#active--;
    }
  }
}

export interface PluginRunnerOptions {
  /** Plugins running at once (`concurrency` in dmonitor.yaml). */
  concurrency: number;
  /** Who plugins run as when the node is root, for specs that leave `user` undefined. */
  user?: PluginSpec["user"];
  deps?: RunDeps;
  /** Replaces {@link runPlugin}, for tests. */
  run?: (spec: PluginSpec, deps: RunDeps) => Promise<CheckResult>;
}

/** Runs plugins under a concurrency cap, never two of the same host+test at once (see module). */
export class PluginRunner {
  readonly #limiter: Limiter;
  readonly #opts: PluginRunnerOptions;

  constructor(opts: PluginRunnerOptions) {
    this.#limiter = new Limiter(opts.concurrency);
    // Resolve the default user once per runner, not once per run (a read of /etc/passwd each).
    const resolve = opts.deps?.resolveUser ?? resolveUser;
    const users = new Map<string, Promise<RunAs>>();
    const cached = (name: string) => {
      let user = users.get(name);
      if (!user) {
        user = resolve(name);
        users.set(name, user);
        user.catch(() => users.delete(name));
      }
      return user;
    };
    this.#opts = { ...opts, deps: { ...opts.deps, resolveUser: cached } };
  }

  /** Plugins running now. */
  get active(): number {
    return this.#limiter.active;
  }

  /** Plugins waiting for a slot. */
  get waiting(): number {
    return this.#limiter.waiting;
  }

  /** True while host+test is queued or running. */
  isRunning(host: string, test: string): boolean {
    return this.#limiter.has(runKey(host, test));
  }

  /** Runs the plugin, or joins the run of the same host+test already under way. */
  run(spec: PluginSpec): Promise<CheckResult> {
    const { user, deps = {}, run = runPlugin } = this.#opts;
    const full = spec.user === undefined && user !== undefined ? { ...spec, user } : spec;
    return this.#limiter.run(runKey(spec.host, spec.test), () => run(full, deps));
  }
}

/** Host names and test names cannot contain NUL, so the key is unambiguous. */
function runKey(host: string, test: string): string {
  return `${host}\0${test}`;
}
