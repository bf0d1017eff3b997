import assert from "node:assert/strict";
import { syncBackoff } from "./backoff.ts";

Deno.test("syncBackoff: doubles from the base, caps, and jitters into [50%, 100%]", () => {
  const p = { baseMs: 2000, maxMs: 60_000 };
  const table: [attempt: number, rand: number, want: number][] = [
    [0, 1, 0],
    [-1, 1, 0],
    [NaN, 1, 0],
    [1, 1, 2000],
    [2, 1, 4000],
    [3, 1, 8000],
    [5, 1, 32_000],
    [6, 1, 60_000],
    [1000, 1, 60_000],
    [1, 0, 1000],
    [3, 0, 4000],
    [3, 0.5, 6000],
    [6, 0, 30_000],
    [2, 7, 4000], // out-of-range randomness is clamped
    [2, -3, 2000],
  ];
  for (const [attempt, rand, want] of table) {
    assert.equal(syncBackoff(attempt, p, rand), want, `attempt ${attempt}, rand ${rand}`);
  }
  assert.equal(syncBackoff(3, { baseMs: 100, maxMs: 100 }, 1), 100);
});
