import assert from "node:assert/strict";
import { perfSeries, renderCheckPage } from "./check_page.tsx";
import { sampleCheckPage } from "./testing.ts";

const text = (html: string) =>
  html.replace(/<style>.*?<\/style>/s, "").replace(/<title>.*?<\/title>/gs, "")
    .replace(/<[^>]+>/g, " ").replace(/&#39;/g, "'").replace(/&amp;/g, "&").replace(/\s+/g, " ");

Deno.test("check page: state, history pictures, perfdata, incidents with votes and notices, runs", () => {
  const html = renderCheckPage(sampleCheckPage(), { refreshSeconds: 30 });
  assert.ok(html.startsWith('<!DOCTYPE html><html lang="en">'));
  assert.doesNotMatch(html, /<script/);
  assert.match(html, /<meta http-equiv="refresh" content="30">/);
  const t = text(html);
  assert.match(t, /UP www\.example\.com https HTTP 200 in 41 ms/);
  assert.match(t, /uptime 24 h 98\.26% · 7 d 99\.75% · 30 d 99\.94%/);
  assert.match(html, /<svg class="tl" /);
  assert.match(html, /<svg class="rt" /);
  assert.match(html, /<svg class="days" viewBox="0 0 299 10"/);
  assert.match(html, /<title>2025-10-23: no runs<\/title>/, "days without runs drawn grey");
  assert.match(t, /Perfdata \(1\) time 0\.041s last 3 runs: min 0\.041s, max 0\.043s/);
  assert.match(html, /<svg class="series" viewBox="0 0 9 20"/);
  assert.match(
    t,
    /Incidents \(1\) closed began 2025-11-21T07:00:00Z · ended 2025-11-21T07:25:00Z, lasted 25m/,
  );
  assert.match(t, /down to email:ops@example\.com delivered/);
  assert.match(t, /beta FAIL .* HTTP 503 Service Unavailable/);
  assert.match(
    t,
    /State changes \(2\) OK HTTP 200 in 44 ms .* CRITICAL HTTP 503 Service Unavailable/,
  );
  assert.match(
    t,
    /Last runs \(3\) when state took output .* OK 41ms HTTP 200 in 41 ms \| time=0\.041s;1;5;0/,
  );
  assert.match(html, /href="\.\.\/\.\.\/badge\/www\.example\.com\/https\.svg\?window=30d"/);
  assert.match(html, /<h1><a href="\.\.\/\.\.\/">dmonitor · alpha<\/a><\/h1>/);
});

Deno.test("check page: text from plugins is escaped; no history and no perfdata say so", () => {
  const v = sampleCheckPage();
  v.check = { ...v.check, output: "<b>x</b>", history: undefined, perfdata: [] };
  v.runs = [];
  v.incidents = [];
  const html = renderCheckPage(v, { refreshSeconds: 30 });
  assert.match(html, /&lt;b&gt;x&lt;\/b&gt;/);
  const t = text(html);
  assert.match(t, /No history stored yet\./);
  assert.match(t, /Perfdata \(0\) The check reports no perfdata\./);
  assert.match(t, /No incidents recorded for this check\./);
});

Deno.test("perfSeries: labels of the last run, values oldest first, runs without the label skipped", () => {
  const p = (label: string, value: number) => ({
    label,
    value,
    unit: "",
    warn: null,
    crit: null,
    min: null,
    max: null,
  });
  const run = (perf: ReturnType<typeof p>[]) => ({
    at: 0,
    status: "OK",
    state: "OK",
    output: "",
    durationMs: 1,
    perfdata: perf,
  });
  assert.deepEqual(perfSeries([run([p("a", 3), p("b", 9)]), run([p("a", 2)]), run([p("a", 1)])]), [
    { label: "a", unit: "", values: [1, 2, 3] },
    { label: "b", unit: "", values: [9] },
  ]);
});
