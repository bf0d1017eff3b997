/**
 * A running node: schedules every configured test, records results, logs state changes, prunes
 * history, and hands each result to the consensus part. Everything it touches is injected.
 * @module
 */
import type { Config, TestConfig } from "../config/types.ts";
import type { Logger } from "../log/mod.ts";
import type { CheckResult } from "../runner/result.ts";
import { type Clock, Scheduler } from "../schedule/mod.ts";
import type { LastResult, StateStore } from "../store/mod.ts";
import type { Executor } from "./execute.ts";
import { ResultLog } from "./results.ts";

export {
  createExecutor,
  type Executor,
  type ExecutorDeps,
  runBuiltin,
  substituteArgs,
} from "./execute.ts";

/** Called after every scheduled result is stored, with the previous stored result. */
export type ResultHook = (
  result: CheckResult,
  previous: LastResult | null,
  test: TestConfig,
) => Promise<void>;

export interface NodeDeps {
  config: Config;
  store: StateStore;
  execute: Executor;
  clock: Clock;
  logger: Logger;
  onResult?: ResultHook;
  /** Shared with the consensus part, whose confirm runs are recorded the same way. */
  results?: ResultLog;
}

interface TestJob {
  key: string;
  interval: number;
  test: TestConfig;
}

const PRUNE_EVERY = 3_600_000;

export function testKey(host: string, test: string): string {
  return `${host}\t${test}`;
}

export class Node {
  #config: Config;
  readonly #scheduler: Scheduler<TestJob>;
  readonly #deps: NodeDeps;
  /** Results produced since start, for status and tests. */
  runs = 0;
  #stopping: AbortSignal | null = null;
  readonly #results: ResultLog;

  constructor(deps: NodeDeps) {
    this.#deps = deps;
    this.#config = deps.config;
    this.#results = deps.results ?? new ResultLog(deps.store, deps.logger);
    this.#scheduler = new Scheduler<TestJob>({
      clock: deps.clock,
      run: (job) => this.#run(job.test),
      logger: deps.logger.child("schedule"),
    });
    this.#applyJobs();
  }

  get config(): Config {
    return this.#config;
  }

  get overruns(): number {
    return this.#scheduler.overruns;
  }

  /** Swaps in a new, already validated configuration; unchanged tests keep their slots. */
  reload(config: Config): void {
    this.#config = config;
    this.#applyJobs();
    const keys = new Set(config.tests.map((t) => testKey(t.host, t.test)));
    const dropped = this.#deps.store.forgetExcept(keys);
    this.#deps.logger.info("configuration reloaded", {
      tests: config.tests.length,
      peers: config.peers.length,
      dropped,
    });
  }

  /** Runs until `signal` aborts; waits for running checks before returning. */
  async run(signal: AbortSignal): Promise<void> {
    const { clock, logger, store } = this.#deps;
    this.#stopping = signal;
    const pruner = (async () => {
      while (!signal.aborted) {
        try {
          const n = store.prune(clock.now(), this.#config.settings.history_retention);
          if (n > 0) logger.debug("history pruned", { rows: n });
        } catch (e) {
          logger.error("cannot prune history", { error: (e as Error).message });
        }
        await clock.sleep(PRUNE_EVERY, signal);
      }
    })();
    await Promise.all([this.#scheduler.loop(signal), pruner]);
  }

  #applyJobs(): void {
    this.#scheduler.setJobs(
      this.#config.tests.map((t) => ({
        key: testKey(t.host, t.test),
        interval: t.interval,
        test: t,
      })),
    );
  }

  async #run(test: TestConfig): Promise<void> {
    const { execute, onResult, logger } = this.#deps;
    const result = await execute(test);
    // A run cut short by shutdown says nothing about the service: do not record or act on it.
    if (this.#stopping?.aborted) return;
    const previous = this.#results.record(result, "schedule");
    this.runs++;
    if (onResult) {
      try {
        await onResult(result, previous, test);
      } catch (e) {
        logger.error("result handling failed", {
          host: test.host,
          test: test.test,
          error: (e as Error).message,
        });
      }
    }
  }
}
