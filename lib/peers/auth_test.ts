import assert from "node:assert/strict";
import {
  AuthError,
  HEADERS,
  importPeerKey,
  RequestVerifier,
  signReply,
  signRequest,
  verifyReply,
} from "./auth.ts";

const SECRET = "correct horse battery staple 42";
const enc = new TextEncoder();
const body = enc.encode('{"host":"www","test":"http"}');

const AUD = { self: ["node-b"], senders: ["node-a", "node-c"] };

async function signed(
  over: { now?: number; nonce?: string; secret?: string; node?: string; to?: string } = {},
) {
  const key = await importPeerKey(over.secret ?? SECRET);
  const h = await signRequest(key, {
    method: "POST",
    path: "/v1/confirm",
    node: over.node ?? "node-a",
    to: over.to ?? "node-b",
    body,
    now: over.now ?? 1_000_000,
    nonce: over.nonce ?? "0123456789abcdef0123456789abcdef",
  });
  return new Headers(h);
}

async function reason(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "accepted";
  } catch (e) {
    assert.ok(e instanceof AuthError, String(e));
    return e.reason;
  }
}

Deno.test("auth: a signed request verifies; every tampered part is refused with its reason", async () => {
  const key = await importPeerKey(SECRET);
  const req = { method: "POST", path: "/v1/confirm", body };
  const v = () => new RequestVerifier({ key });
  assert.deepEqual(await v().verify({ ...req, headers: await signed() }, 1_000_000, AUD), {
    node: "node-a",
    nonce: "0123456789abcdef0123456789abcdef",
  });
  const cases: [string, () => Promise<unknown>, string][] = [
    [
      "other method",
      async () => v().verify({ ...req, method: "PUT", headers: await signed() }, 1_000_000, AUD),
      "forged",
    ],
    [
      "other path",
      async () =>
        v().verify({ ...req, path: "/v1/state", headers: await signed() }, 1_000_000, AUD),
      "forged",
    ],
    [
      "other body",
      async () =>
        v().verify({ ...req, body: enc.encode("{}"), headers: await signed() }, 1_000_000, AUD),
      "forged",
    ],
    [
      "other key",
      async () =>
        v().verify(
          { ...req, headers: await signed({ secret: "a different secret!!" }) },
          1_000_000,
          AUD,
        ),
      "forged",
    ],
    ["node renamed", async () => {
      const h = await signed();
      h.set(HEADERS.node, "node-b");
      return v().verify({ ...req, headers: h }, 1_000_000, AUD);
    }, "forged"],
    ["receiver renamed", async () => {
      const h = await signed();
      h.set(HEADERS.to, "node-c");
      return v().verify({ ...req, headers: h }, 1_000_000, { ...AUD, self: ["node-c"] });
    }, "forged"],
    [
      "meant for another node (a replay to node-c)",
      async () =>
        v().verify({ ...req, headers: await signed() }, 1_000_000, { ...AUD, self: ["node-c"] }),
      "misdirected",
    ],
    [
      "a sender nodes.txt does not list",
      async () => v().verify({ ...req, headers: await signed({ node: "rogue" }) }, 1_000_000, AUD),
      "unknown-sender",
    ],
    ["timestamp moved", async () => {
      const h = await signed();
      h.set(HEADERS.timestamp, "1000001");
      return v().verify({ ...req, headers: h }, 1_000_000, AUD);
    }, "forged"],
    ["nonce changed", async () => {
      const h = await signed();
      h.set(HEADERS.nonce, "ffffffffffffffffffffffffffffffff");
      return v().verify({ ...req, headers: h }, 1_000_000, AUD);
    }, "forged"],
    [
      "30 s behind is fine",
      async () => v().verify({ ...req, headers: await signed({ now: 970_000 }) }, 1_000_000, AUD),
      "accepted",
    ],
    [
      "31 s behind",
      async () => v().verify({ ...req, headers: await signed({ now: 969_000 }) }, 1_000_000, AUD),
      "stale",
    ],
    [
      "31 s ahead",
      async () => v().verify({ ...req, headers: await signed({ now: 1_031_000 }) }, 1_000_000, AUD),
      "stale",
    ],
    [
      "no headers",
      () => v().verify({ ...req, headers: new Headers() }, 1_000_000, AUD),
      "unsigned",
    ],
    ["signature missing", async () => {
      const h = await signed();
      h.delete(HEADERS.signature);
      return v().verify({ ...req, headers: h }, 1_000_000, AUD);
    }, "unsigned"],
    ["signature not hex", async () => {
      const h = await signed();
      h.set(HEADERS.signature, "z".repeat(64));
      return v().verify({ ...req, headers: h }, 1_000_000, AUD);
    }, "malformed"],
    [
      "no key here",
      async () =>
        new RequestVerifier({ key: null }).verify(
          { ...req, headers: await signed() },
          1_000_000,
          AUD,
        ),
      "no-key",
    ],
  ];
  for (const [name, run, want] of cases) assert.equal(await reason(run()), want, name);
});

Deno.test("auth: a replayed request is refused, also after a restart of the sender's clock", async () => {
  const key = await importPeerKey(SECRET);
  const v = new RequestVerifier({ key });
  const req = { method: "POST", path: "/v1/confirm", body, headers: await signed() };
  assert.equal(await reason(v.verify(req, 1_000_000, AUD)), "accepted");
  assert.equal(await reason(v.verify(req, 1_000_500, AUD)), "replayed");
  assert.equal(await reason(v.verify(req, 1_029_000, AUD)), "replayed");
  assert.equal(await reason(v.verify(req, 1_031_000, AUD)), "stale"); // and then too old anyway
});

Deno.test("auth: the nonce cache is only filled by valid signatures and refuses when full", async () => {
  const key = await importPeerKey(SECRET);
  const v = new RequestVerifier({ key, maxNonces: 1 });
  const forged = await signed({ secret: "not the shared secret" });
  assert.equal(
    await reason(
      v.verify({ method: "POST", path: "/v1/confirm", body, headers: forged }, 1_000_000, AUD),
    ),
    "forged",
  );
  assert.equal(
    await reason(
      v.verify(
        { method: "POST", path: "/v1/confirm", body, headers: await signed() },
        1_000_000,
        AUD,
      ),
    ),
    "accepted",
  );
  const other = await signed({ nonce: "abcdefabcdefabcdefabcdefabcdefab" });
  assert.equal(
    await reason(
      v.verify({ method: "POST", path: "/v1/confirm", body, headers: other }, 1_000_000, AUD),
    ),
    "overloaded",
  );
});

Deno.test("auth: replies are bound to the request nonce, status and body", async () => {
  const key = await importPeerKey(SECRET);
  const r = { nonce: "0123456789abcdef0123456789abcdef", status: 200, node: "node-b", body };
  const signature = await signReply(key, r);
  assert.equal(await verifyReply(key, { ...r, signature }), true);
  assert.equal(
    await verifyReply(key, { ...r, signature, nonce: "ffffffffffffffffffffffffffffffff" }),
    false,
  );
  assert.equal(await verifyReply(key, { ...r, signature, status: 500 }), false);
  assert.equal(await verifyReply(key, { ...r, signature, body: enc.encode("{}") }), false);
  assert.equal(await verifyReply(key, { ...r, signature, node: "node-c" }), false);
  assert.equal(await verifyReply(key, { ...r, signature: "nothex" }), false);
});
