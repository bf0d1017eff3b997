import assert from "node:assert/strict";
import {
  busyReply,
  checkListFilter,
  checkName,
  isBusyReply,
  parseCommand,
  parseFilters,
  parseProbe,
  PROBE_MAGIC,
  probeBody,
  routeName,
  smvDone,
} from "./protocol.ts";

Deno.test("parseCommand: every command of the reference, by its own regexes", () => {
  const table: [string, unknown][] = [
    ["SEND <a.data> SIZE 12", { kind: "SEND", name: "a.data", size: 12 }],
    ["ZSEND <a.data> SIZE 7", { kind: "ZSEND", name: "a.data", size: 7 }],
    ["RECV <a.data>", { kind: "RECV", name: "a.data" }],
    ["ZRECV <a.data>", { kind: "ZRECV", name: "a.data" }],
    ["LS <>", { kind: "LS", name: "" }],
    ["LS <x.conf>", { kind: "LS", name: "x.conf" }],
    ["MV <a.data>", { kind: "MV", name: "a.data" }],
    ["SMV <a.data>", { kind: "SMV", name: "a.data" }],
    ["QUIT", { kind: "QUIT" }],
    ["PASS 703b089710823916d4bb7ff2deff4d8f", {
      kind: "PASS",
      digest: "703b089710823916d4bb7ff2deff4d8f",
    }],
    ["PASS ", { kind: "PASS", digest: "" }],
    // Greedy like Perl: the name swallows up to the last "> SIZE", then fails the name check.
    ["SEND <a> SIZE 1> SIZE 5", { kind: "SEND", name: "a> SIZE 1", size: 5 }],
    ["SEND <with space.txt> SIZE 3", { kind: "SEND", name: "with space.txt", size: 3 }],
    ["SEND <a> SIZE 99999999999999999999", { kind: "SEND", name: "a", size: 1e20 }],
  ];
  for (const [line, want] of table) assert.deepEqual(parseCommand(line), want, line);
});

Deno.test("parseCommand: anything else is unknown (the server closes)", () => {
  for (
    const line of [
      "",
      "quit",
      "QUIT ",
      " QUIT",
      "QUIT\r", // the framing strips one \r; a bare one here is not QUIT
      "SEND <a> SIZE -1",
      "SEND <a> SIZE",
      "SEND a SIZE 3",
      "SEND  <a> SIZE 3",
      "RECV <a> ",
      "LS",
      "DEL <a>",
      "HELLO",
      "PASS",
      "MV <a>x",
    ]
  ) {
    assert.equal(parseCommand(line).kind, "unknown", JSON.stringify(line));
  }
});

Deno.test("checkName: the reference's characters and our stricter rules", () => {
  const bad: [string, string][] = [
    ["", "empty name"],
    [".", "relative directory name"],
    ["..", "relative directory name"],
    ["../etc/passwd", "invalid character"],
    ["a/b", "invalid character"],
    ["a\\b", "invalid character"],
    ...[..."?[]/\\=+<>:;',*~"].map((c): [string, string] => [`x${c}y`, "invalid character"]),
    ["a\u0000b", "control character"],
    ["a\nb", "control character"],
    ["a\tb", "control character"],
    ["a\u007fb", "control character"],
    ["a\u0085b", "control character"],
    ["bad\ufffdutf8", "control character"],
    ["rm -rf x |", "trailing |"],
    ["ls|", "trailing |"],
    [" a", "leading or trailing space"],
    ["a ", "leading or trailing space"],
    ["a\u00a0", "leading or trailing space"],
    [".dmonitor-tentacle", "reserved name"],
    [".dmonitor.tmp.abc", "reserved name"],
    ["x".repeat(256), "name too long"],
    ["é".repeat(128), "name too long"],
  ];
  for (const [name, why] of bad) assert.equal(checkName(name), why, JSON.stringify(name));
  for (
    const good of [
      "a.data",
      "0123456789abcdef.1700000000.data",
      "with space.txt",
      "$(reboot)",
      "`id`",
      "|leading-pipe",
      "a|b",
      ".hidden",
      "...",
      "ünïcödé.conf",
      "x".repeat(255),
    ]
  ) {
    assert.equal(checkName(good), null, good);
  }
});

Deno.test("checkListFilter: LS may name no file at all, but no invalid characters", () => {
  assert.equal(checkListFilter(""), null);
  assert.equal(checkListFilter("."), null);
  assert.equal(checkListFilter("x.conf"), null);
  assert.equal(checkListFilter("../"), "invalid character");
  assert.equal(checkListFilter("a\u0001"), "control character");
});

Deno.test("parseFilters: the reference's split rules", () => {
  const f = parseFilters(".*\\.conf:conf;.*\\.md5:md5/;.*\\.zip:collections");
  assert.deepEqual(f.map((x) => [x.regex.source, x.dir]), [
    [".*\\.conf", "conf"],
    [".*\\.md5", "md5"],
    [".*\\.zip", "collections"],
  ]);
  // Entries without a directory are skipped; a third field is ignored; trailing ; is fine.
  assert.deepEqual(parseFilters("a:;b;c:d:e;").map((x) => [x.regex.source, x.dir]), [["c", "d"]]);
  assert.deepEqual(parseFilters(""), []);
  assert.throws(() => parseFilters("(:x"), /invalid regular expression/);
  assert.throws(() => parseFilters("a:../up"), /must stay inside the storage/);
  assert.throws(() => parseFilters("a:x/../../up"), /must stay inside the storage/);
});

Deno.test("routeName: first match wins, unanchored", () => {
  const f = parseFilters(".*\\.conf:conf;conf:other;\\.md5$:md5");
  assert.equal(routeName(f, "agent.conf"), "conf");
  assert.equal(routeName(f, "myconfig"), "other");
  assert.equal(routeName(f, "a.md5"), "md5");
  assert.equal(routeName(f, "a.data"), "");
  assert.equal(routeName([], "a.conf"), "");
});

Deno.test("probe body: round trip, and anything else is not a dmonitor server", () => {
  const body = probeBody(["smv"]);
  assert.equal(body, `${PROBE_MAGIC}\nsmv\n`);
  assert.deepEqual(parseProbe(body), new Set(["smv"]));
  assert.deepEqual(parseProbe(probeBody([])), new Set());
  assert.equal(parseProbe("some file that happens to have this name\n"), null);
  assert.equal(parseProbe(""), null);
});

Deno.test("SMV DONE: the confirmation line parses back", () => {
  const sha = "a".repeat(64);
  assert.equal(smvDone("a b.data", 5, sha), `SMV DONE <a b.data> SIZE 5 SHA256 ${sha}`);
  assert.deepEqual(parseCommand(smvDone("a b.data", 5, sha)), {
    kind: "SMVDONE",
    name: "a b.data",
    size: 5,
    sha256: sha,
  });
  assert.equal(parseCommand(`SMV DONE <a> SIZE 5 SHA256 ${"A".repeat(64)}`).kind, "unknown");
  assert.equal(parseCommand("SMV DONE <a> SIZE 5").kind, "unknown");
});

Deno.test("busyReply: the ERR form of the first command, or nothing", () => {
  assert.equal(busyReply(parseCommand("SEND <a> SIZE 1")), "SEND ERR (server busy)");
  assert.equal(busyReply(parseCommand("ZSEND <a> SIZE 1")), "ZSEND ERR (server busy)");
  assert.equal(busyReply(parseCommand("RECV <a>")), "RECV ERR (server busy)");
  assert.equal(busyReply(parseCommand("LS <>")), "LS ERR");
  assert.equal(busyReply(parseCommand("MV <a>")), "MV ERR");
  assert.equal(busyReply(parseCommand("QUIT")), null);
  assert.equal(busyReply(parseCommand("PASS x")), null);
  assert.ok(isBusyReply("SEND ERR (server busy)"));
  assert.ok(!isBusyReply("SEND ERR (file is too big)"));
});
