import assert from "node:assert/strict";
import { renderFamilies } from "../metrics/mod.ts";
import { parsePerfdata } from "../runner/perfdata.ts";
import { viewFamilies } from "./metrics.ts";
import { renderPage } from "./page.tsx";
import { sampleView } from "./testing.ts";

const PERF = `'a "b"\\c'=5% load=0.5;1;2;0 load=9 t=3ms 'x''y'=1c`;

function perfView() {
  const view = sampleView();
  view.checks[1]!.perfdata = parsePerfdata(PERF).items;
  return view;
}

Deno.test("dmonitor_check_perfdata: one gauge per item, labels escaped, a repeated label kept once", () => {
  const fam = viewFamilies(perfView()).filter((f) => f.name === "dmonitor_check_perfdata");
  const text = renderFamilies(fam);
  assert.deepEqual(text.trimEnd().split("\n").slice(2), [
    'dmonitor_check_perfdata{host="db.example.com",test="tcp",label="a \\"b\\"\\\\c",unit="%"} 5',
    'dmonitor_check_perfdata{host="db.example.com",test="tcp",label="load",unit=""} 0.5',
    'dmonitor_check_perfdata{host="db.example.com",test="tcp",label="t",unit="ms"} 3',
    `dmonitor_check_perfdata{host="db.example.com",test="tcp",label="x'y",unit="c"} 1`,
  ]);
  assert.match(text, /^# TYPE dmonitor_check_perfdata gauge$/m);
});

Deno.test("dmonitor_check_perfdata: no samples for checks without perfdata", () => {
  const fam = viewFamilies(sampleView()).find((f) => f.name === "dmonitor_check_perfdata");
  assert.deepEqual(fam?.samples, []);
});

Deno.test("page: a check's perfdata is a small list under it, escaped", () => {
  const html = renderPage(perfView(), { refreshSeconds: 30 });
  assert.match(
    html,
    /<ul class="perf"><li>&#39;a &quot;b&quot;\\c&#39;=5%<\/li><li>load=0.5;1;2;0<\/li><li>load=9<\/li>/,
  );
  assert.equal(renderPage(sampleView(), { refreshSeconds: 30 }).includes('class="perf"'), false);
});

Deno.test("metrics: peer clock offsets, silences by kind and acknowledged incidents", () => {
  const view = sampleView();
  view.peers[0]!.clockOffsetMs = 7_400;
  view.silences = [
    { host: "a", test: null, until: 1, reason: "", id: "0123456789ab", by: "x", origin: "n1" },
    { host: "b", test: null, until: 1, reason: "", file: "silence.d/b" },
    { host: "c", test: null, until: 1, reason: "", file: "silence.d/c" },
  ];
  view.incidents[0]!.acknowledged = { by: "x", origin: "n1", at: 1, reason: "" };
  const names = [
    "dmonitor_peer_clock_offset_seconds",
    "dmonitor_silences",
    "dmonitor_incidents_acknowledged",
  ];
  const text = renderFamilies(viewFamilies(view).filter((f) => names.includes(f.name)));
  const samples = text.split("\n").filter((l) => l && !l.startsWith("#"));
  assert.deepEqual(samples, [
    'dmonitor_peer_clock_offset_seconds{peer="10.0.0.2:2929"} 7.4',
    'dmonitor_silences{kind="shared"} 1',
    'dmonitor_silences{kind="file"} 2',
    "dmonitor_incidents_acknowledged 1",
  ]);
});

Deno.test("dmonitor_check_phase: one sample per phase per check, 1 for its phase; none without consensus", () => {
  const fam = viewFamilies(sampleView()).filter((f) => f.name === "dmonitor_check_phase");
  const lines = renderFamilies(fam).trimEnd().split("\n").slice(2);
  // The sample: db.example.com tcp is down, mail.example.com smtp local-only; the others have
  // no phase (consensus not wired in for them).
  assert.deepEqual(lines.filter((l) => l.endsWith(" 1")), [
    'dmonitor_check_phase{host="db.example.com",test="tcp",phase="down"} 1',
    'dmonitor_check_phase{host="mail.example.com",test="smtp",phase="local-only"} 1',
  ]);
  assert.equal(lines.length, 14, "7 phases x 2 checks");
  assert.ok(lines.includes('dmonitor_check_phase{host="db.example.com",test="tcp",phase="ok"} 0'));
});
