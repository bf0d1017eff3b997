import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { backoff, BACKOFF_MAX_MS, MAX_ATTEMPTS } from "./backoff.ts";

Deno.test("backoff doubles from 30 s and stops at 1 h", () => {
  const table: [number, number][] = [
    [0, 0],
    [-1, 0],
    [NaN, 0],
    [1, 30_000],
    [2, 60_000],
    [3, 120_000],
    [7, 1_920_000],
    [8, 3_600_000],
    [9, 3_600_000],
    [1000, 3_600_000],
  ];
  for (const [attempt, want] of table) assertEquals(backoff(attempt), want, `attempt ${attempt}`);
});

Deno.test("backoff: a message gives up after roughly half a day of retries", () => {
  let total = 0;
  for (let a = 1; a < MAX_ATTEMPTS; a++) total += backoff(a);
  assertEquals(total > 10 * 3_600_000 && total < 16 * 3_600_000, true, `${total} ms`);
  assertEquals(backoff(MAX_ATTEMPTS) <= BACKOFF_MAX_MS, true);
});
