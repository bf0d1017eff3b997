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

Deno.test("formatLine: terminal escapes from plugins and peers never reach the log", () => {
  assert.equal(
    formatLine("info", "node", "check \x1b]0;pwned\x07result", {
      output: "FAIL\x1b[2J disk\x1b]52;c;ZWNobyBoaQ==\x07 full",
      peer: "beta\x9b2J",
      multi: "a\nb\x1b[31m",
    }),
    'INFO node check result output="FAIL disk full" peer=beta multi="a\\nb"',
  );
});
