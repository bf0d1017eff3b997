/**
 * The scheduler's clock is the code base's one clock (lib/clock), re-exported for its users.
 * @module
 */
export { type Clock, FakeClock, settle, systemClock } from "../clock/mod.ts";
