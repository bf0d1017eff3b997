import assert from "node:assert/strict";
import { type Family, Registry, renderChunks, renderFamilies } from "./mod.ts";

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

Deno.test("renderChunks: the same text as renderFamilies, in chunks of the given sample count", () => {
  const families: Family[] = [
    {
      name: "a_total",
      help: "A.",
      type: "counter" as const,
      samples: [1, 2, 3].map((v) => ({ labels: { k: `v${v}` }, value: v })),
    },
    {
      name: "b",
      help: "B.",
      type: "gauge" as const,
      samples: [{ labels: {}, value: 4 }, { labels: { x: 'q"\\' }, value: 5 }],
    },
    // A second family of the same name is merged into the first.
    {
      name: "a_total",
      help: "A again.",
      type: "counter" as const,
      samples: [{ labels: { k: "v4" }, value: 6 }],
    },
  ];
  const chunks = [...renderChunks(families, 2)];
  assert.equal(chunks.length, 3);
  assert.equal(chunks.join(""), renderFamilies(families));
  assert.equal(
    chunks.join(""),
    '# HELP a_total A.\n# TYPE a_total counter\na_total{k="v1"} 1\na_total{k="v2"} 2\na_total{k="v3"} 3\n' +
      'a_total{k="v4"} 6\n# HELP b B.\n# TYPE b gauge\nb 4\nb{x="q\\"\\\\"} 5\n',
  );
});
