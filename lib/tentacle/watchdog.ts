/**
 * One timer per connection for steps that must end by a deadline, instead of a timer (and a
 * Promise.race) per read, write or step: a small SEND does several. Each step only notes its
 * deadline; the timer, re-armed only when a step needs an earlier one than it is set for, calls
 * `onExpire` if a step is still running past its deadline. Steps run one at a time.
 * @module
 */
export class Watchdog {
  #deadline = 0; // performance.now() by which the step in flight must end; 0: none in flight
  #timer: ReturnType<typeof setTimeout> | null = null;
  #timerAt = 0;

  constructor(private readonly onExpire: () => void) {}

  /** A step starts that must end by `deadline` (performance.now() time). */
  arm(deadline: number): void {
    this.#deadline = deadline;
    if (this.#timer === null || this.#timerAt > deadline) {
      if (this.#timer !== null) clearTimeout(this.#timer);
      this.#watch(deadline);
    }
  }

  /** The step in flight ended. */
  disarm(): void {
    this.#deadline = 0;
  }

  /** No more steps: the timer goes. */
  stop(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }

  #watch(at: number): void {
    this.#timerAt = at;
    const timer = setTimeout(() => {
      this.#timer = null;
      if (this.#deadline === 0) return;
      if (performance.now() < this.#deadline) return this.#watch(this.#deadline);
      this.onExpire();
    }, Math.max(0, at - performance.now()));
    this.#timer = timer;
    Deno.unrefTimer(timer); // the step itself keeps the process alive
  }
}
