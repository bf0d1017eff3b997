import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { sanitizeDeep, sanitizeText } from "./sanitize.ts";

const ONE_LINE: [string, string, string][] = [
  ["plain text is kept", "OK - 200 in 12 ms", "OK - 200 in 12 ms"],
  ["non-ASCII is kept", "Überlast – 東京 ✓", "Überlast – 東京 ✓"],
  ["clear screen (CSI 2J)", "FAIL\x1b[2Jdown", "FAILdown"],
  ["cursor home + erase", "\x1b[H\x1b[2J\x1b[3Jhello", "hello"],
  ["colour (SGR)", "\x1b[31;1mred\x1b[0m", "red"],
  ["CSI with private marker", "a\x1b[?1049hb", "ab"],
  ["CSI with intermediate", "a\x1b[0 qb", "ab"],
  ["CSI cut short at the end", "a\x1b[12;3", "a"],
  ["OSC 52 clipboard, BEL-terminated", "x\x1b]52;c;ZWNobyBoaQ==\x07y", "xy"],
  ["OSC 52 clipboard, ST-terminated", "x\x1b]52;c;ZWNobyBoaQ==\x1b\\y", "xy"],
  ["OSC 0 window title", "\x1b]0;pwned\x07ok", "ok"],
  ["OSC 8 hyperlink keeps its text", "\x1b]8;;http://x/\x1b\\link\x1b]8;;\x1b\\", "link"],
  ["unterminated OSC eats the rest", "ok \x1b]52;c;AAAA", "ok "],
  ["DCS", "a\x1bP1$tx\x1b\\b", "ab"],
  ["APC / PM / SOS", "a\x1b_x\x1b\\b\x1b^y\x07c\x1bXz\x1b\\d", "abcd"],
  ["ESC c (full reset)", "a\x1bcb", "ab"],
  ["ESC ( B (charset)", "a\x1b(Bb", "ab"],
  ["lone ESC at the end", "a\x1b", "a"],
  ["8-bit CSI", "a\x9b2Jb", "ab"],
  ["8-bit OSC with 8-bit ST", "a\x9d52;c;QQ==\x9cb", "ab"],
  ["other C1", "a\x85b\x8db", "abb"],
  ["BEL, BS, NUL, DEL", "a\x07b\x08c\x00d\x7fe", "abcde"],
  ["newlines and tabs become spaces", "line1\nline2\tx\r\ny", "line1 line2 x  y"],
  ["CR overwrite trick", "OK\rFAIL", "OK FAIL"],
];

Deno.test("sanitizeText: one line", () => {
  for (const [name, input, want] of ONE_LINE) {
    assertEquals(sanitizeText(input), want, name);
  }
});

const LINES: [string, string, string][] = [
  ["keeps LF and tab", "a\n\tb\n", "a\n\tb\n"],
  ["CRLF to LF", "a\r\nb\r\n", "a\nb\n"],
  ["lone CR removed", "OK\rFAIL\n", "OKFAIL\n"],
  ["sequences across lines", "a\x1b[2J\nb\x1b]52;c;QQ==\x07\n", "a\nb\n"],
  ["vertical tab and form feed removed", "a\x0bb\x0cc", "abc"],
];

Deno.test("sanitizeText: lines", () => {
  for (const [name, input, want] of LINES) {
    assertEquals(sanitizeText(input, { lines: true }), want, name);
  }
});

Deno.test("sanitizeDeep cleans every string of a view and keeps the rest", () => {
  const date = new Date(0);
  const input = {
    node: "a\x1b[2J",
    n: 3,
    ok: true,
    none: null,
    list: [{ output: "x\x1b]52;c;QQ==\x07y" }, "z\x07"],
    date,
  };
  const out = sanitizeDeep(input);
  assertEquals(out, { node: "a", n: 3, ok: true, none: null, list: [{ output: "xy" }, "z"], date });
  assertEquals(input.node, "a\x1b[2J", "the input is not changed");
});
