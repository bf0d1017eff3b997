/**
 * Where every check result is recorded, counted and logged, whichever path ran it: the schedule
 * or a peer's confirm request. One place, so a failure first seen through a confirm run is logged
 * as "check failing" (the next scheduled run then sees no change and stays quiet), and the run
 * counters count every run.
 * @module
 */
import { METRICS } from "../metrics/mod.ts";
import type { Logger } from "../log/mod.ts";
import type { CheckResult } from "../runner/result.ts";
import type { LastResult, StateStore } from "../store/mod.ts";

/** What ran the check: the node's own schedule, or a peer asking it to confirm. */
export type RunVia = "schedule" | "confirm";

export class ResultLog {
  readonly #store: StateStore;
  readonly #logger: Logger;
  /** Checks that have reported since start: their first result is logged at info level. */
  readonly #reported = new Set<string>();

  constructor(store: StateStore, logger: Logger) {
    this.#store = store;
    this.#logger = logger;
    store.onWriteError = (e) => logger.error("cannot record results", { error: e.message });
  }

  /** Stores `result` (committed with the others of the next moment: a mass failure's results
   * share their commits), counts it and logs a change of status; returns the result stored
   * before. */
  record(result: CheckResult, via: RunVia): LastResult | null {
    const { host, test } = result;
    let previous: LastResult | null = null;
    try {
      previous = this.#store.recordSoon(result);
    } catch (e) {
      this.#logger.error("cannot record result", { host, test, via, error: (e as Error).message });
    }
    METRICS.checkRuns.inc({ status: result.status, state: result.state });
    if (result.state === "TIMEOUT") METRICS.pluginTimeouts.inc({ test });
    const key = `${host}\t${test}`;
    const first = !this.#reported.has(key);
    this.#reported.add(key);
    const fields = {
      host,
      test,
      status: result.status,
      ms: result.durationMs,
      output: result.output,
      ...(via === "confirm" ? { via } : {}),
    };
    if (previous && previous.status !== result.status) {
      if (result.status === "OK") this.#logger.info("check passes again", fields);
      else this.#logger.warn("check failing", fields);
    } else if (!previous && result.status !== "OK") {
      this.#logger.warn("check failing", fields);
    } else if (first) {
      this.#logger.info("check result", fields);
    } else {
      this.#logger.debug("check result", fields);
    }
    return previous;
  }
}
