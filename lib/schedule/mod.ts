/**
 * When checks run: the {@link Scheduler} (each job every interval, spread over it, never two runs
 * of one job at once) and time as a dependency ({@link Clock}, {@link FakeClock} for tests).
 * @module
 */
export { type Clock, FakeClock, settle, systemClock } from "./clock.ts";
export { firstDue, type Job, nextDue, Scheduler, type SchedulerOptions } from "./scheduler.ts";
