import assert from "node:assert/strict";
import { formatPerfItem, MAX_PERF_ITEMS, parsePerfdata, type PerfItem } from "./perfdata.ts";

const item = (label: string, value: number, unit = "", more: Partial<PerfItem> = {}): PerfItem => ({
  label,
  value,
  unit,
  warn: null,
  crit: null,
  min: null,
  max: null,
  ...more,
});

const CASES: [string, string, { items: PerfItem[]; skipped: number; dropped?: number }][] = [
  ["empty", "", { items: [], skipped: 0 }],
  ["blanks only", "   \t ", { items: [], skipped: 0 }],
  ["plain number", "load=0.5", { items: [item("load", 0.5)], skipped: 0 }],
  ["all fields", "/=2643MB;5948;5958;0;5968", {
    items: [item("/", 2643, "MB", { warn: "5948", crit: "5958", min: 0, max: 5968 })],
    skipped: 0,
  }],
  ["ranges kept as strings", "t=3s;~:10;@10:20;;", {
    items: [item("t", 3, "s", { warn: "~:10", crit: "@10:20" })],
    skipped: 0,
  }],
  ["quoted label with blanks and '' escape", "'it''s a disk'=5%;80:;90:", {
    items: [item("it's a disk", 5, "%", { warn: "80:", crit: "90:" })],
    skipped: 0,
  }],
  ["quoted label with = inside", "'a=b'=1c", { items: [item("a=b", 1, "c")], skipped: 0 }],
  ["units", "a=1s b=2ms c=3us d=4% e=5B f=6KB g=7MB h=8TB i=9c j=10", {
    items: [
      item("a", 1, "s"),
      item("b", 2, "ms"),
      item("c", 3, "us"),
      item("d", 4, "%"),
      item("e", 5, "B"),
      item("f", 6, "KB"),
      item("g", 7, "MB"),
      item("h", 8, "TB"),
      item("i", 9, "c"),
      item("j", 10),
    ],
    skipped: 0,
  }],
  ["negative, exponent, leading dot", "a=-1.5 b=1e3 c=.25", {
    items: [item("a", -1.5), item("b", 1000), item("c", 0.25)],
    skipped: 0,
  }],
  ["min/max not numbers become null", "a=1;;;x;", { items: [item("a", 1)], skipped: 0 }],
  ["several lines joined", "a=1\nb=2\r\n  c=3", {
    items: [item("a", 1), item("b", 2), item("c", 3)],
    skipped: 0,
  }],
  ["usage text is all garbage", " -x device}", { items: [], skipped: 2 }],
  ["garbage between good items", "a=1 junk =2 b=x c=U d=1MiBs2 e=2", {
    items: [item("a", 1), item("e", 2)],
    skipped: 5,
  }],
  ["unclosed quote eats the rest", "a=1 'oops=2 b=3", { items: [item("a", 1)], skipped: 1 }],
  ["quote without =", "'x' a=1", { items: [item("a", 1)], skipped: 1 }],
  ["apostrophe in unquoted label", "it's=1", { items: [], skipped: 1 }],
  ["huge exponent is not finite", "a=1e999", { items: [], skipped: 1 }],
];

for (const [name, input, want] of CASES) {
  Deno.test(`parsePerfdata: ${name}`, () => {
    assert.deepStrictEqual(parsePerfdata(input), { dropped: 0, ...want });
  });
}

Deno.test("parsePerfdata: keeps at most MAX_PERF_ITEMS items and counts the rest", () => {
  const text = Array.from({ length: MAX_PERF_ITEMS + 5 }, (_, i) => `m${i}=${i}`).join(" ");
  const got = parsePerfdata(text + " bad");
  assert.deepStrictEqual(got.items.length, MAX_PERF_ITEMS);
  assert.deepStrictEqual(got.items.at(-1), item(`m${MAX_PERF_ITEMS - 1}`, MAX_PERF_ITEMS - 1));
  assert.deepStrictEqual(got.dropped, 5);
  assert.deepStrictEqual(got.skipped, 1);
});

Deno.test("parsePerfdata: never throws on arbitrary bytes", () => {
  let seed = 7;
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const alphabet = "ab'= ;:~@.-+e1%\n\t|";
  for (let k = 0; k < 2000; k++) {
    let s = "";
    for (let i = 0; i < 30; i++) s += alphabet[Math.floor(rnd() * alphabet.length)];
    const r = parsePerfdata(s);
    for (const it of r.items) assert.deepStrictEqual(Number.isFinite(it.value), true);
  }
});

Deno.test("formatPerfItem: quotes odd labels, drops trailing empty fields, round-trips", () => {
  const text = "'it''s a disk'=5%;80:;90: /=2643MB;5948;5958;0;5968 t=1s;;;0 n=3";
  const items = parsePerfdata(text).items;
  assert.deepStrictEqual(items.map(formatPerfItem), [
    "'it''s a disk'=5%;80:;90:",
    "/=2643MB;5948;5958;0;5968",
    "t=1s;;;0",
    "n=3",
  ]);
  assert.deepStrictEqual(parsePerfdata(items.map(formatPerfItem).join(" ")).items, items);
});
