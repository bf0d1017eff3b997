import assert from "node:assert/strict";
import { splitKey, unconfirmable } from "./reach.ts";

const keys = (...k: string[]) => new Set(["(cluster)", ...k]);

Deno.test("unconfirmable: a test fewer nodes run than the quorum needs", () => {
  const nodes = [
    { node: "n1", keys: keys("127.0.0.1/ssh", "127.0.0.1/tcp") },
    { node: "n2", keys: keys("127.0.0.1/tcp") },
    { node: "n3", keys: keys("127.0.0.1/tcp", "10.0.0.9/ping") },
  ];
  assert.deepEqual(unconfirmable(nodes, 2), [
    {
      host: "10.0.0.9",
      test: "ping",
      nodes: ["n3"],
      unknown: 0,
      needed: 2,
      message: "10.0.0.9/ping: configured on 1 node, quorum 2: it can never be confirmed",
    },
    {
      host: "127.0.0.1",
      test: "ssh",
      nodes: ["n1"],
      unknown: 0,
      needed: 2,
      message: "127.0.0.1/ssh: configured on 1 node, quorum 2: it can never be confirmed",
    },
  ]);
  assert.deepEqual(unconfirmable(nodes, 1), []);
  assert.equal(unconfirmable(nodes, 3).length, 2);
  assert.equal(
    unconfirmable(nodes, 3).find((u) => u.test === "tcp"),
    undefined,
    "three nodes run tcp",
  );
});

Deno.test("unconfirmable: a node not heard from may run anything", () => {
  const nodes = [
    { node: "n1", keys: keys("127.0.0.1/ssh") },
    { node: "n2", keys: null },
    { node: "n3", keys: keys() },
  ];
  assert.deepEqual(unconfirmable(nodes, 2), []);
  assert.deepEqual(unconfirmable(nodes, 3).map((u) => u.message), [
    "127.0.0.1/ssh: configured on at most 2 nodes, quorum 3: it can never be confirmed",
  ]);
});

Deno.test("splitKey: at the last slash", () => {
  assert.deepEqual(splitKey("fe80::1/ssh"), { host: "fe80::1", test: "ssh" });
  assert.deepEqual(splitKey("www.example.com/http"), { host: "www.example.com", test: "http" });
});
