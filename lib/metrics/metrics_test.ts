import assert from "node:assert/strict";
import { Registry, renderFamilies } from "./mod.ts";

Deno.test("registry renders counters and gauges in the Prometheus text format", () => {
  const r = new Registry();
  const c = r.counter("x_events_total", "Events seen.", ["kind"]);
  const g = r.gauge("x_depth", "Queue depth.");
  r.counter("x_idle_total", "Never incremented.");
  c.inc({ kind: "a" });
  c.inc({ kind: "a" }, 2);
  c.inc({ kind: 'b"\\\n' });
  g.set({}, 4.5);
  assert.equal(
    r.render(),
    [
      "# HELP x_events_total Events seen.",
      "# TYPE x_events_total counter",
      'x_events_total{kind="a"} 3',
      'x_events_total{kind="b\\"\\\\\\n"} 1',
      "# HELP x_depth Queue depth.",
      "# TYPE x_depth gauge",
      "x_depth 4.5",
      "# HELP x_idle_total Never incremented.",
      "# TYPE x_idle_total counter",
      "x_idle_total 0",
      "",
    ].join("\n"),
  );
  assert.equal(c.get({ kind: "a" }), 3);
});

Deno.test("registry refuses bad names, wrong labels, decreasing counters and duplicates", () => {
  const r = new Registry();
  assert.throws(() => r.counter("x_events", "no _total"), /must end in _total/);
  assert.throws(() => r.gauge("9bad", "h"), /Invalid metric name/);
  const c = r.counter("y_total", "h", ["peer"]);
  assert.throws(() => c.inc({ host: "x" }), /takes labels \{peer\}, got \{host\}/);
  assert.throws(() => c.inc({ peer: "x" }, -1), /cannot decrease/);
  assert.throws(() => c.set({ peer: "x" }, 1), /is a counter/);
  assert.throws(() => r.counter("y_total", "again"), /registered twice/);
});

Deno.test("families with the same name are merged under one HELP/TYPE", () => {
  const text = renderFamilies([
    { name: "z", help: "h", type: "gauge", samples: [{ labels: { a: "1" }, value: 1 }] },
    { name: "z", help: "h", type: "gauge", samples: [{ labels: { a: "2" }, value: NaN }] },
  ]);
  assert.equal(text, '# HELP z h\n# TYPE z gauge\nz{a="1"} 1\nz{a="2"} NaN\n');
});
