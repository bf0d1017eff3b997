/**
 * A deadline signal that is gone once its operation is. `AbortSignal.timeout(ms)` keeps its
 * timer, and the timer the signal, until the time is up, however soon the operation ended; and
 * `AbortSignal.any([stop, ...])` ties each signal to the node's long-lived stop signal. A notice
 * delivered in 5 ms with a 120 s send timeout so held its signals, timer and closures for two
 * minutes: after a 3,000-check outage, a heap snapshot of the node that sent the notices showed
 * 5,525 such AbortSignals still alive (JS heap 17.9 -> 23.0 MiB, bench/consensus_mass.ts with
 * DMC_BENCH_HEAP). {@link deadline} cancels its timer and its parent listener when disposed.
 * (Plugin runs, thousands a second with one timeout length and no signal needed, share one timer
 * per length instead: lib/runner/deadline.ts.)
 * @module
 */

/** A signal that aborts after `ms` or with its parent, until disposed. */
export interface Deadline extends Disposable {
  readonly signal: AbortSignal;
  /** True when the time ran out (not when the parent aborted). */
  readonly expired: boolean;
}

/**
 * An AbortSignal that aborts with a `TimeoutError` DOMException after `ms` (as
 * `AbortSignal.timeout` does), or with `parent`'s reason when `parent` aborts first. Dispose it
 * (`using d = deadline(...)`) when the operation is over: the timer is cleared and the listener
 * on `parent` removed, so nothing outlives the operation. Like Deno's `AbortSignal.timeout`, its
 * timer keeps the process alive while it runs.
 */
export function deadline(ms: number, parent?: AbortSignal): Deadline {
  const ctl = new AbortController();
  let expired = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const onParent = () => {
    clearTimeout(timer);
    ctl.abort(parent!.reason);
  };
  if (parent?.aborted) onParent();
  else {
    timer = setTimeout(() => {
      expired = true;
      parent?.removeEventListener("abort", onParent);
      ctl.abort(new DOMException("Signal timed out.", "TimeoutError"));
    }, ms);
    parent?.addEventListener("abort", onParent, { once: true });
  }
  return {
    signal: ctl.signal,
    get expired() {
      return expired;
    },
    [Symbol.dispose]() {
      clearTimeout(timer);
      parent?.removeEventListener("abort", onParent);
    },
  };
}
