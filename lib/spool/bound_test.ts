import assert from "node:assert/strict";
import { fileTime, planDrops, type SpoolFile } from "./bound.ts";

const DAY = 86_400_000;
const f = (name: string, size: number, time: number): SpoolFile => ({ name, size, time });

Deno.test("planDrops: too old first, then oldest until the total fits", () => {
  const now = 10 * DAY;
  const files = [
    f("c", 300, 9 * DAY),
    f("a", 100, 1 * DAY),
    f("b", 200, 5 * DAY),
    f("d", 400, 10 * DAY),
  ];
  const table: [maxBytes: number, maxAge: number, drop: string[], left: number][] = [
    [10_000, 30 * DAY, [], 1000],
    [10_000, 7 * DAY, ["a"], 900],
    [10_000, 2 * DAY, ["a", "b"], 700],
    [700, 30 * DAY, ["a", "b"], 700],
    [699, 30 * DAY, ["a", "b", "c"], 400],
    [0, 30 * DAY, ["a", "b", "c", "d"], 0],
    [1000, 0, ["a", "b", "c"], 400], // age 0: only the file written "now" survives
  ];
  for (const [maxBytes, maxAge, drop, left] of table) {
    const p = planDrops(files, now, maxBytes, maxAge);
    assert.deepEqual(p.drop, drop, `max ${maxBytes} B, ${maxAge / DAY} d`);
    assert.equal(p.bytes, left);
    assert.equal(p.files, 4 - drop.length);
    assert.equal(p.droppedBytes, 1000 - left);
  }
  // Equal times drop in name order.
  assert.deepEqual(planDrops([f("y", 1, 0), f("x", 1, 0)], 0, 1, DAY).drop, ["x"]);
});

Deno.test("fileTime: the unix time in a data file name, else the mtime", () => {
  assert.equal(fileTime("0123abcd.1700000000.data", null), 1_700_000_000_000);
  assert.equal(fileTime("agent_1700000001.data", null), 1_700_000_001_000);
  assert.equal(fileTime("odd.data", new Date(5)), 5);
});
