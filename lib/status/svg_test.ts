import assert from "node:assert/strict";
import {
  badgeSvg,
  daysSvg,
  niceCeil,
  responseSvg,
  seriesSvg,
  stateClass,
  textWidth,
  timelineSvg,
} from "./svg.ts";

const H = 3_600_000;
const T0 = Date.UTC(2026, 0, 10);

Deno.test("timelineSvg: one rect per segment on a 1000-unit axis, state class and tooltip", () => {
  const svg = timelineSvg({
    from: T0,
    to: T0 + 24 * H,
    segments: [
      { from: T0, to: T0 + 6 * H, state: null },
      { from: T0 + 6 * H, to: T0 + 12 * H, state: "OK" },
      { from: T0 + 12 * H, to: T0 + 13 * H, state: "CRITICAL" },
      { from: T0 + 13 * H, to: T0 + 24 * H, state: "WARNING" },
    ],
  }, "state, last 24 h");
  assert.equal(
    svg,
    '<svg class="tl" viewBox="0 0 1000 10" preserveAspectRatio="none" role="img" aria-label="state, last 24 h">' +
      '<rect x="0" width="250" height="10" class="s-none"><title>no data 00:00Z-06:00Z</title></rect>' +
      '<rect x="250" width="250" height="10" class="s-ok"><title>OK 06:00Z-12:00Z</title></rect>' +
      '<rect x="500" width="41.7" height="10" class="s-bad"><title>CRITICAL 12:00Z-13:00Z</title></rect>' +
      '<rect x="541.7" width="458.3" height="10" class="s-warn"><title>WARNING 13:00Z-00:00Z</title></rect>' +
      "</svg>",
  );
});

Deno.test("timelineSvg: segments outside the window are clipped to it; escapes the label", () => {
  const svg = timelineSvg({
    from: 1000,
    to: 2000,
    segments: [{ from: 0, to: 5000, state: "UNKNOWN" }],
  }, 'a<b>&"');
  assert.match(svg, /aria-label="a&lt;b&gt;&amp;&quot;"/);
  assert.match(svg, /<rect x="0" width="1000" height="10" class="s-unknown">/);
});

Deno.test("stateClass and niceCeil", () => {
  assert.deepEqual(
    ["OK", "WARNING", "UNKNOWN", "CRITICAL", "FAIL", "TIMEOUT", "ERROR", null].map(stateClass),
    ["s-ok", "s-warn", "s-unknown", "s-bad", "s-bad", "s-bad", "s-bad", "s-none"],
  );
  assert.deepEqual([0, 1, 1.5, 3, 7, 10, 11, 120, 999].map(niceCeil), [
    1,
    1,
    2,
    5,
    10,
    10,
    20,
    200,
    1000,
  ]);
});

Deno.test("responseSvg: a pale max bar and a solid average bar per slot (one path of strokes each); failing slots red", () => {
  const svg = responseSvg([
    { at: T0, avgMs: 10, maxMs: 20, runs: 60, ok: 60 },
    { at: T0 + 2 * H, avgMs: 50, maxMs: 200, runs: 60, ok: 59 },
  ], { from: T0, to: T0 + 3 * H, step: H, scaleMs: 200, label: "response time" });
  assert.equal(
    svg,
    '<svg class="rt" viewBox="0 0 12 30" preserveAspectRatio="none" role="img" aria-label="response time">' +
      '<path class="rt-max" d="M1.5 30v-3M9.5 30v-30"/>' +
      '<path class="rt-avg" d="M1.5 30v-1.5"/>' +
      '<path class="rt-bad" d="M9.5 30v-7.5"/>' +
      "</svg>",
  );
});

Deno.test("responseSvg: points outside the window are left out; a zero time still shows", () => {
  const svg = responseSvg([
    { at: T0 - 2 * H, avgMs: 10, maxMs: 20, runs: 1, ok: 1 },
    { at: T0, avgMs: 0, maxMs: 0, runs: 1, ok: 1 },
  ], { from: T0, to: T0 + H, step: H, scaleMs: 1, label: "x" });
  assert.equal(
    svg,
    '<svg class="rt" viewBox="0 0 4 30" preserveAspectRatio="none" role="img" aria-label="x">' +
      '<path class="rt-max" d="M1.5 30v-0.5"/>' +
      '<path class="rt-avg" d="M1.5 30v-0.5"/></svg>',
  );
});

Deno.test("daysSvg: a cell per day coloured by its uptime, date and figure in the tooltip", () => {
  assert.equal(
    daysSvg([
      { day: T0, uptime: 1, text: "100%" },
      { day: T0 + 24 * H, uptime: 0.995, text: "99.50%" },
      { day: T0 + 48 * H, uptime: 0.5, text: "50.00%" },
      { day: T0 + 72 * H, uptime: null, text: "no runs" },
    ]),
    '<svg class="days" viewBox="0 0 39 10" preserveAspectRatio="none" role="img" aria-label="uptime per day">' +
      '<rect x="0" width="9" height="10" class="s-ok"><title>2026-01-10: 100%</title></rect>' +
      '<rect x="10" width="9" height="10" class="s-warn"><title>2026-01-11: 99.50%</title></rect>' +
      '<rect x="20" width="9" height="10" class="s-bad"><title>2026-01-12: 50.00%</title></rect>' +
      '<rect x="30" width="9" height="10" class="s-none"><title>2026-01-13: no runs</title></rect>' +
      "</svg>",
  );
});

Deno.test("seriesSvg: bars from zero (or the lowest negative value) to the highest", () => {
  assert.equal(
    seriesSvg([0, 5, 10], "load"),
    '<svg class="series" viewBox="0 0 9 20" preserveAspectRatio="none" role="img" aria-label="load">' +
      '<rect x="0" y="19.5" width="2" height="0.5"/>' +
      '<rect x="3" y="10" width="2" height="10"/>' +
      '<rect x="6" y="0" width="2" height="20"/></svg>',
  );
  assert.match(
    seriesSvg([-10, 10], "t"),
    /<rect x="0" y="19.5" width="2" height="0.5"\/><rect x="3" y="0" width="2" height="20"\/>/,
  );
});

Deno.test("badgeSvg: label and message widths from the text, standalone document", () => {
  assert.equal(textWidth("ssh"), 20);
  assert.equal(textWidth("UP"), 15);
  assert.equal(
    badgeSvg("ssh", "UP", "#1a7f37"),
    '<svg xmlns="http://www.w3.org/2000/svg" width="55" height="20" role="img" aria-label="ssh: UP">' +
      "<title>ssh: UP</title>" +
      '<rect width="30" height="20" fill="#555"/>' +
      '<rect x="30" width="25" height="20" fill="#1a7f37"/>' +
      '<g fill="#fff" font-family="DejaVu Sans,Verdana,Geneva,sans-serif" font-size="11" text-anchor="middle">' +
      '<text x="15" y="14">ssh</text><text x="42.5" y="14">UP</text></g></svg>',
  );
  assert.match(
    badgeSvg("a<b", "&", "#000"),
    /<text x="[\d.]+" y="14">a&lt;b<\/text><text x="[\d.]+" y="14">&amp;<\/text>/,
  );
});
