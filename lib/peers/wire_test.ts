import assert from "node:assert/strict";
import { ProtocolError } from "../errors/mod.ts";
import { parseIncidentView, parsePeerReply, parseTargetRequest } from "./wire.ts";

const view = {
  host: "www.example.com",
  test: "http",
  phase: "down",
  claim: null,
  incident: {
    id: "www.example.com/http/1/a",
    startedAt: 1,
    endedAt: null,
    down: { by: "a", committedAt: 2, deliveredAt: null, passed: [] },
    recovered: null,
  },
  closed: null,
};
const reply = { node: "b", status: "FAIL", output: "refused", at: 5, incident: view };
const target = { host: "www.example.com", test: "http" };

function error(f: () => unknown): string {
  try {
    f();
    return "ok";
  } catch (e) {
    assert.ok(e instanceof ProtocolError, String(e));
    return e.message;
  }
}

Deno.test("parseTargetRequest: host and test names only", () => {
  assert.deepEqual(parseTargetRequest({ ...target, extra: 1 }), target);
  assert.deepEqual(parseTargetRequest({ host: "2001:db8::1", test: "ping" }), {
    host: "2001:db8::1",
    test: "ping",
  });
  const table: [unknown, string][] = [
    [null, "'body' must be an object, got null"],
    [[], "'body' must be an object, got []"],
    [{ test: "http" }, "'host' must be a host name or IP address, got undefined"],
    [
      { host: "-oProxyCommand", test: "http" },
      "'host' must be a host name or IP address, got \"-oProxyCommand\"",
    ],
    [{ host: "a b", test: "http" }, "'host' must be a host name or IP address, got \"a b\""],
    [
      { host: "www", test: "../../etc/passwd" },
      "'test' must be a test name, got \"../../etc/passwd\"",
    ],
    [{ host: "www", test: 7 }, "'test' must be a test name, got 7"],
  ];
  for (const [v, want] of table) assert.equal(error(() => parseTargetRequest(v)), want);
});

Deno.test("parsePeerReply: valid replies pass, each malformed field is named", () => {
  assert.deepEqual(parsePeerReply({ ...reply, unknownField: true }, target), reply);
  assert.deepEqual(parsePeerReply({ ...reply, incident: null }, target).incident, null);
  const table: [unknown, string][] = [
    [
      { ...reply, status: "UNREACHABLE" },
      "'status' must be one of OK, FAIL, TIMEOUT, UNKNOWN, got \"UNREACHABLE\"",
    ],
    [{ ...reply, status: "ok" }, "'status' must be one of OK, FAIL, TIMEOUT, UNKNOWN, got \"ok\""],
    [{ ...reply, at: -1 }, "'at' must be a time in ms, got -1"],
    [{ ...reply, at: "now" }, "'at' must be a time in ms, got \"now\""],
    [
      { ...reply, output: "x".repeat(5000) },
      "'output' must be a string of at most 4096 characters",
    ],
    [{ ...reply, node: "" }, "'node' must be a node name, got \"\""],
    [{ ...reply, incident: { ...view, phase: "weird" } }, "'incident.phase' must be one of"],
    [
      { ...reply, incident: { ...view, host: "other" } },
      "'incident' must be about www.example.com/http",
    ],
    [{
      ...reply,
      incident: {
        ...view,
        incident: { ...view.incident, down: { by: "a", committedAt: 2, deliveredAt: null } },
      },
    }, "'incident.incident.down.passed' must be a list of node names"],
    [
      { ...reply, incident: { ...view, claim: "up" } },
      "'incident.claim' must be one of down, recovered",
    ],
    ["garbage", "'reply' must be an object"],
  ];
  for (const [v, want] of table) {
    assert.ok(error(() => parsePeerReply(v, target)).startsWith(want), want);
  }
});

Deno.test("parseIncidentView: round-trips a full view", () => {
  assert.deepEqual(parseIncidentView(JSON.parse(JSON.stringify(view))), view);
});

Deno.test("parseIncidentView: a claim's settle time is carried when said, absent when not, bounded", () => {
  const claiming = { ...view, claim: "down" as const, settleMs: 600 };
  assert.deepEqual(parseIncidentView(JSON.parse(JSON.stringify(claiming))), claiming);
  assert.equal("settleMs" in parseIncidentView(JSON.parse(JSON.stringify(view))), false);
  for (const bad of [-1, 60_001, "600", Infinity]) {
    assert.throws(
      () => parseIncidentView({ ...claiming, settleMs: bad }),
      /settleMs' must be a number of milliseconds/,
      String(bad),
    );
  }
});
