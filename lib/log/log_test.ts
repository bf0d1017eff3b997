import assert from "node:assert/strict";
import { formatLine, memoryLogger } from "./mod.ts";

Deno.test("formatLine: one line, quoted values, no undefined fields", () => {
  assert.equal(
    formatLine("warn", "node", "check failing", {
      host: "a.example",
      output: "connection refused\nretry",
      n: 3,
      x: undefined,
    }),
    'WARN node check failing host=a.example output="connection refused\\nretry" n=3',
  );
  assert.equal(formatLine("info", "c", "multi\nline"), "INFO c multi line");
});

Deno.test("levels filter and child components name the part", () => {
  const log = memoryLogger("info");
  log.debug("hidden");
  log.child("peers").info("up", { peer: "b" });
  assert.deepEqual(log.lines, ["INFO dmonitor.peers up peer=b"]);
});
