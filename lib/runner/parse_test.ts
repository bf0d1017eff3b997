import assert from "node:assert/strict";
import {
  capBytes,
  oneLine,
  type ParseOptions,
  parsePluginOutput,
  sanitizeLine,
  statusOf,
} from "./parse.ts";

// [name, stdout, exit code, "status state contract", output, perfdata, options]
type Row = [string, string | Uint8Array, number | null, string, string, string?, ParseOptions?];

const rows: Row[] = [
  // dmonitor contract: the first word decides, the exit code does not.
  ["OK alone", "OK\n", 0, "OK OK dmonitor", ""],
  ["OK with text", "OK 3 ms\n", 0, "OK OK dmonitor", "3 ms"],
  ["OK but exit 1", "OK fine\n", 1, "OK OK dmonitor", "fine"],
  ["OK but exit 2", "OK\n", 2, "OK OK dmonitor", ""],
  ["FAIL exit 0", "FAIL no reply\n", 0, "FAIL FAIL dmonitor", "no reply"],
  ["FAIL killed", "FAIL x", null, "FAIL FAIL dmonitor", "x"],
  ["leading blanks", "  OK\tup\n", 0, "OK OK dmonitor", "up"],
  ["tab after word", "FAIL\tdown", 0, "FAIL FAIL dmonitor", "down"],
  ["CRLF", "FAIL down\r\nmore\r\n", 0, "FAIL FAIL dmonitor", "down / more"],
  ["dmonitor with perfdata", "OK fast|time=3ms\n", 0, "OK OK dmonitor", "fast", "time=3ms"],
  // Not exactly the dmonitor word: Nagios by exit code.
  ["lower-case ok", "ok\n", 2, "FAIL CRITICAL nagios", "ok"],
  ["OK: prefix", "OK: all fine\n", 0, "OK OK nagios", "OK: all fine"],
  ["OKAY", "OKAY\n", 1, "OK WARNING nagios", "OKAY"],
  ["FAILED", "FAILED\n", 0, "OK OK nagios", "FAILED"],
  ["OK on line 2", "\nOK\n", 2, "FAIL CRITICAL nagios", "OK"],
  ["nagios 0", "TCP OK - 1 ms|time=1ms;;;0\n", 0, "OK OK nagios", "TCP OK - 1 ms", "time=1ms;;;0"],
  ["nagios 1", "W\n", 1, "OK WARNING nagios", "W"],
  ["nagios 1 strict", "W\n", 1, "FAIL WARNING nagios", "W", "", { warning: "fail" }],
  ["nagios 2", "C\n", 2, "FAIL CRITICAL nagios", "C"],
  ["nagios 3", "U\n", 3, "FAIL UNKNOWN nagios", "U"],
  ["nagios 3 lenient", "U\n", 3, "OK UNKNOWN nagios", "U", "", { unknown: "pass" }],
  ["exit 4", "huh\n", 4, "FAIL UNKNOWN nagios", "exit code 4: huh"],
  ["exit 127", "", 127, "FAIL UNKNOWN nagios", "exit code 127"],
  ["exit -1", "", -1, "FAIL UNKNOWN nagios", "exit code -1"],
  ["signal", "half", null, "FAIL UNKNOWN nagios", "killed by SIGSEGV: half", "", {
    signal: "SIGSEGV",
  }],
  ["signal unnamed", "", null, "FAIL UNKNOWN nagios", "killed by a signal"],
  ["empty exit 0", "", 0, "OK OK nagios", ""],
  ["blank lines exit 0", "\n\n  \n", 0, "OK OK nagios", ""],
  ["empty exit 2 uses stderr", "", 2, "FAIL CRITICAL nagios", "boom / line 2", "", {
    stderr: "boom\nline 2\n",
  }],
  ["stderr ignored when OK", "", 0, "OK OK nagios", "", "", { stderr: "noise" }],
  [
    "stderr appended to a failure's stdout",
    "C",
    2,
    "FAIL CRITICAL nagios",
    "C [stderr: noise]",
    "",
    {
      stderr: "noise",
    },
  ],
  ["stderr not appended when passing", "W", 1, "OK WARNING nagios", "W", "", { stderr: "noise" }],
  [
    "UNKNOWN usage text with | is no perfdata",
    "Usage:\ncheck_disk -w limit -c limit {-p path | -x device}\n",
    3,
    "FAIL UNKNOWN nagios",
    "Usage: / check_disk -w limit -c limit {-p path | -x device} [stderr: check_disk: invalid option -- 'H']",
    "",
    { stderr: "check_disk: invalid option -- 'H'\n" },
  ],
  [
    "UNKNOWN with well-formed perfdata keeps it",
    "UNKNOWN - odd | a=1;2;3\n",
    3,
    "FAIL UNKNOWN nagios",
    "UNKNOWN - odd",
    "a=1;2;3",
  ],
  ["| followed by no item is text", "TCP OK - a | b\n", 0, "OK OK nagios", "TCP OK - a | b"],
  [
    "CRITICAL with perfdata and stderr",
    "DB CRITICAL - 3 conns | conns=3;5;10;0\n",
    2,
    "FAIL CRITICAL nagios",
    "DB CRITICAL - 3 conns [stderr: password authentication failed]",
    "conns=3;5;10;0",
    { stderr: "password authentication failed\n" },
  ],
  [
    "long output and perfdata over lines",
    "DISK OK | /=1MB\nline a\nline b | /boot=2MB\n/home=3MB\n",
    0,
    "OK OK nagios",
    "DISK OK / line a / line b",
    "/=1MB /boot=2MB /home=3MB",
  ],
  ["perfdata only in long part", "S\nL | p=1\n", 0, "OK OK nagios", "S / L", "p=1"],
  ["bytes", new TextEncoder().encode("OK über\n"), 0, "OK OK dmonitor", "über"],
  [
    "invalid utf-8",
    new Uint8Array([70, 65, 73, 76, 32, 0xff, 0xfe, 65]),
    0,
    "FAIL FAIL dmonitor",
    "?A",
  ],
];

for (const [name, stdout, exit, want, output, perfdata = "", opts] of rows) {
  Deno.test(`parsePluginOutput: ${name}`, () => {
    const [status, state, contract] = want.split(" ");
    const { stderr: _stderr, ...got } = parsePluginOutput(stdout, exit, opts);
    assert.deepEqual(got, { status, state, output, perfdata, contract });
  });
}

Deno.test("parsePluginOutput: output and perfdata are capped at 1 KiB", () => {
  const got = parsePluginOutput(`${"é".repeat(5000)}|${"p=1 ".repeat(1250)}`, 0);
  const bytes = (s: string) => new TextEncoder().encode(s).length;
  assert.ok(bytes(got.output) <= 1024 && bytes(got.output) > 1000);
  assert.ok(got.output.endsWith("é..."));
  assert.equal(got.perfdata, "p=1 ".repeat(255) + "p...");
});

Deno.test("parsePluginOutput: stderr is kept on its own, and a long stdout cannot push it out", () => {
  const got = parsePluginOutput("x".repeat(5000), 2, { stderr: "the reason\n" });
  assert.equal(got.stderr, "the reason");
  assert.ok(got.output.endsWith("... [stderr: the reason]"));
  assert.ok(new TextEncoder().encode(got.output).length <= 1024);
  const long = parsePluginOutput("x", 2, { stderr: "y".repeat(5000) });
  assert.ok(long.output.startsWith("x [stderr: yyy"));
  assert.ok(new TextEncoder().encode(long.output).length <= 1024);
  assert.equal(parsePluginOutput("OK", 0, {}).stderr, undefined);
});

Deno.test("sanitizeLine: controls, bidi overrides and bad bytes become ?, blanks collapse", () => {
  assert.equal(sanitizeLine("a\x00\x01b\x1b[31mc"), "a?b?[31mc");
  assert.equal(sanitizeLine("x\u202Eevil\u200By"), "x?evil?y");
  assert.equal(sanitizeLine("  a\t\tb \u2028 c\u00a0d  "), "a b c d");
  assert.equal(sanitizeLine("\ufffd\ufffdz\x7f"), "?z?");
  assert.equal(sanitizeLine("naïve 日本"), "naïve 日本");
});

Deno.test("capBytes: cuts on a character boundary and marks the cut", () => {
  assert.equal(capBytes("abc", 3), "abc");
  assert.equal(capBytes("abcdef", 5), "ab...");
  assert.equal(capBytes("ééé", 6), "ééé");
  assert.equal(capBytes("éééé", 6), "é...");
  assert.equal(capBytes("😀😀", 7), "😀...");
  assert.equal(capBytes("😀😀", 6), "...");
});

Deno.test("oneLine: joins sanitised lines", () => {
  assert.equal(oneLine("a\n\nb\x00\n"), "a / b?");
  assert.equal(oneLine(new Uint8Array()), "");
});

Deno.test("statusOf: maps every raw state", () => {
  const table: [Parameters<typeof statusOf>[0], string, string][] = [
    ["OK", "OK", "OK"],
    ["FAIL", "FAIL", "FAIL"],
    ["WARNING", "OK", "FAIL"],
    ["CRITICAL", "FAIL", "FAIL"],
    ["UNKNOWN", "FAIL", "OK"],
    ["ERROR", "FAIL", "FAIL"],
    ["TIMEOUT", "TIMEOUT", "TIMEOUT"],
  ];
  for (const [state, byDefault, flipped] of table) {
    assert.equal(statusOf(state), byDefault, state);
    assert.equal(statusOf(state, { warning: "fail", unknown: "pass" }), flipped, state);
  }
});
