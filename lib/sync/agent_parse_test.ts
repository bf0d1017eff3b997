// The tolerant agent data reader: what real agents write, what we write, what must be refused.
import assert from "node:assert/strict";
import { AgentDataError, decodeEntities, parseAgentData, parseAttributes } from "./agent_parse.ts";
import { renderAgentData } from "../spool/agent_xml.ts";
import type { CheckResult } from "../runner/result.ts";

const enc = (s: string) => new TextEncoder().encode(s);

Deno.test("parseAgentData: the protocol document's example", () => {
  const d = parseAgentData(enc(`<?xml version='1.0' encoding='UTF-8'?>
<agent_data agent_name='demo-host' interval='300' version='7.0NG.776' timestamp='2026/11/21 08:52:23' os_name='linux'>
<module>
  <name><![CDATA[cpu_load]]></name>
  <type>generic_data</type>
  <data><![CDATA[42]]></data>
</module>
</agent_data>`));
  assert.deepEqual(d.attrs, {
    agent_name: "demo-host",
    interval: "300",
    version: "7.0NG.776",
    timestamp: "2026/11/21 08:52:23",
    os_name: "linux",
  });
  assert.deepEqual(d.modules, [{
    name: "cpu_load",
    type: "generic_data",
    data: "42",
    description: null,
    extra: {},
  }]);
});

Deno.test("parseAttributes: unescaped values as real agents write them", () => {
  const table: [string, Record<string, string>][] = [
    [`a='1' b="2"`, { a: "1", b: "2" }],
    [`description='Bob's box' x='1'`, { description: "Bob's box", x: "1" }],
    [`description='a > b & c < d' y='2'`, { description: "a > b & c < d", y: "2" }],
    [`description='x=1 y=2' z='3'`, { description: "x=1 y=2", z: "3" }],
    [`interval=300 agent_name='h'`, { interval: "300", agent_name: "h" }],
    [`d='It&apos;s &amp; more &bogus; &#65;'`, { d: "It's & more &bogus; A" }],
    [`last='ends with quote'' `, { last: "ends with quote'" }],
    [`empty=''`, { empty: "" }],
  ];
  for (const [tag, want] of table) assert.deepEqual(parseAttributes(tag), want, tag);
});

Deno.test("parseAgentData: unescaped root attributes and text, latin-1, comments, datalist", () => {
  const latin = new Uint8Array([
    ...enc(`<?xml version="1.0" encoding="ISO-8859-1"?>\n<!-- agent -->\n`),
    ...enc(`<agent_data agent_name='caf`),
    0xe9,
    ...enc(`' description='Bob's <box> & co' group='x'>\n`),
    ...enc(`<module><name>disk /</name><type>generic_data</type><data>a < b & c</data>`),
    ...enc(`<description>It's 5 > 3</description><unit>%</unit></module>\n`),
    ...enc(`<module><name><![CDATA[hist]]></name><type>generic_data</type>`),
    ...enc(
      `<datalist><data><value><![CDATA[1]]></value><timestamp>t</timestamp></data></datalist></module>`,
    ),
    ...enc(`<module><type>generic_data</type><data>nameless</data></module>`),
    ...enc(`</agent_data>\n`),
  ]);
  const d = parseAgentData(latin);
  assert.equal(d.attrs.agent_name, "café");
  assert.equal(d.attrs.description, "Bob's <box> & co");
  assert.equal(d.modules.length, 2);
  assert.deepEqual(d.modules[0], {
    name: "disk /",
    type: "generic_data",
    data: "a < b & c",
    description: "It's 5 > 3",
    extra: { unit: "%" },
  });
  assert.equal(d.modules[1]!.name, "hist");
  assert.match(d.modules[1]!.extra.datalist!, /<value><!\[CDATA\[1\]\]><\/value>/);
});

Deno.test("parseAgentData: a CDATA holding markup and a split ]]>", () => {
  const d = parseAgentData(enc(
    `<agent_data agent_name='a'><module><name>m</name><type>async_string</type>` +
      `<data><![CDATA[</data></module>]]]]><![CDATA[>]]></data></module></agent_data>`,
  ));
  assert.equal(d.modules[0]!.data, "</data></module>]]>");
});

Deno.test("parseAgentData: refuses files cut short, empty files and non-agent data", () => {
  const full = `<agent_data agent_name='a'>\n<module><name>m</name><type>generic_proc</type>` +
    `<data><![CDATA[1]]></data></module>\n</agent_data>\n`;
  assert.equal(parseAgentData(enc(full)).modules.length, 1);
  // Every strict prefix is refused: a partial file is never taken for a complete one.
  for (let n = 0; n < full.trimEnd().length; n++) {
    assert.throws(
      () => parseAgentData(enc(full.slice(0, n))),
      AgentDataError,
      `prefix of ${n} bytes`,
    );
  }
  assert.throws(() => parseAgentData(enc("<html></html>")), /no <agent_data>/);
  assert.throws(() => parseAgentData(enc("<agent_data interval='1'></agent_data>")), /agent_name/);
  assert.deepEqual(parseAgentData(enc("<agent_data agent_name='x'/>")).modules, []);
});

Deno.test("decodeEntities leaves bare ampersands alone", () => {
  assert.equal(decodeEntities("a & b &lt;c&gt; &#x41;&#66; &nope;"), "a & b <c> AB &nope;");
});

Deno.test("round trip: what the spool writes, the ingester reads back exactly", () => {
  const r: CheckResult = {
    host: "www.example.com",
    test: "http",
    status: "FAIL",
    state: "CRITICAL",
    output: "HTTP 500 <b>'oops'</b> & ]]> \u0001 ünï",
    perfdata: "",
    exitCode: 2,
    startedAt: 1_700_000_000_123,
    durationMs: 20,
  };
  const text = renderAgentData({
    agentName: "node-1",
    time: 1_700_000_001_000,
    intervalSec: 30,
    version: "dmonitor 1 'x' <y>",
    site: "plant-7",
    group: null,
    results: [r, { ...r, test: "ssh", status: "OK", state: "OK", output: "fine" }],
    notifications: [],
    dropped: 3,
  });
  const d = parseAgentData(enc(text));
  assert.equal(d.attrs.agent_name, "node-1");
  assert.equal(d.attrs.version, "dmonitor 1 'x' <y>");
  assert.equal(d.attrs.dmonitor_time, "1700000001000");
  assert.equal(d.attrs.timestamp, "2023/11/14 22:13:21");
  assert.deepEqual(d.modules.map((m) => [m.name, m.type, m.data]), [
    ["www.example.com/http", "generic_proc", "0"],
    ["www.example.com/ssh", "generic_proc", "1"],
    ["dmonitor spool dropped", "generic_data", "3"],
  ]);
  assert.equal(d.modules[0]!.description, "HTTP 500 <b>'oops'</b> & ]]> \ufffd ünï");
  assert.equal(d.modules[0]!.extra.dmonitor_at, "1700000000123");
  assert.equal(d.modules[0]!.extra.dmonitor_state, "CRITICAL");
});
