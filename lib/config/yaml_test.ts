import assert from "node:assert/strict";
import { parse } from "yaml";
import { decodeFlat, decodeYaml, loadYamlLibrary, needsYamlLibrary } from "./yaml.ts";
import type { ConfigProblem } from "../errors/mod.ts";

const SAME = [
  "port: 22\n",
  "port: 2222\ninterval: 30s\ntimeout: 5s\nretries: 1\n",
  "# comment\n\npath: /health\nexpect_body: ok\n",
  "insecure: true\nmin_days: 0\n",
  "interval: 1m30s\n",
  "server: ns1.example.com\n",
  "user: ops@example.com\n",
  "plugin: /usr/lib/nagios/plugins/check_tcp\n",
  "x: 500ms\r\n",
  "flag: yes\n", // a string in YAML 1.2, as the parser says
  "listen: 127.0.0.1:9100\n",
  "listen: 0.0.0.0:29399\nstate_dir: /var/lib/dmonitor\n",
  "peer: www.example.com:443\n",
  "address: 10.0.0.1\n",
  "at: 12:30\n", // sexagesimal only in YAML 1.1
  "x: 1:2\n",
];
const FALLBACK = [
  "port: 0x16\n", // hex: the parser decides
  "port: 022\n",
  "value: 1e3\n",
  "value: 1.5\n",
  "value: -3\n",
  "flag: True\n",
  "nothing: null\n",
  "tilde: ~\n",
  "s: 'quoted'\n",
  "list: [a, b]\n",
  'args:\n  - -H\n  - "{host}"\n',
  "port: 22 # ssh\n",
  "port: 22\nport: 23\n",
  "Port: 22\n",
  "a:b\n",
  "listen: 127.0.0.1:\n",
  "listen: :9100\n",
  "value: 1.2.3\n",
  "key: two words\n",
  "nested:\n  a: 1\n",
];

Deno.test("decodeFlat gives exactly what the YAML parser gives, or defers to it", () => {
  for (const text of SAME) {
    const fast = decodeFlat(text);
    assert.notEqual(fast, undefined, `fast path expected for ${JSON.stringify(text)}`);
    assert.deepEqual(fast, parse(text), JSON.stringify(text));
  }
  for (const text of FALLBACK) assert.equal(decodeFlat(text), undefined, JSON.stringify(text));
});

Deno.test("decodeYaml: duplicates still reported with their line through the full parser", async () => {
  await loadYamlLibrary();
  const problems: { file: string; key: string; message: string }[] = [];
  assert.equal(decodeYaml("port: 22\nport: 23\n", "hosts.d/a/ssh", problems), null);
  assert.equal(problems[0]!.key, "line 2");
  assert.deepEqual(decodeYaml("port: 0x16\n", "f", []), { port: 22 });
});

Deno.test("decodeYaml: a long comment block before a key decodes at once (no regex backtracking)", () => {
  const comments = Array.from({ length: 60 }, (_, i) => `# comment line ${i}: 50% of nodes`);
  const text = [...comments, "", "#quorum: 2", "interval: 45s", "#timeout: 10s", ""].join("\n");
  const problems: ConfigProblem[] = [];
  assert.deepEqual(decodeYaml(text, "dmonitor.yaml", problems), { interval: "45s" });
  assert.deepEqual(problems, []);
  assert.equal(decodeYaml(comments.join("\n") + "\n\n", "dmonitor.yaml", problems), null);
});

Deno.test("needsYamlLibrary: blank and flat files do not, anything else does", () => {
  for (const t of ["", "\n# only a comment\n", "port: 22\n", "port: 22\ninterval: 30s\n"]) {
    assert.equal(needsYamlLibrary(t), false, JSON.stringify(t));
  }
  for (const t of ["status:\n  allow: [127.0.0.0/8]\n", "port: 22\nport: 23\n", "x: 'quoted'\n"]) {
    assert.equal(needsYamlLibrary(t), true, JSON.stringify(t));
  }
});

/** Loads the tree in a fresh process and says whether the YAML library got loaded. */
async function loadsLibrary(files: Record<string, string>): Promise<boolean> {
  const dir = await Deno.makeTempDir({ prefix: "dmonitor-yaml-" });
  try {
    for (const [path, text] of Object.entries(files)) {
      await Deno.mkdir(`${dir}/${path}`.replace(/\/[^/]*$/, ""), { recursive: true });
      await Deno.writeTextFile(`${dir}/${path}`, text);
    }
    const here = new URL(".", import.meta.url).href;
    const code = `import { readConfigTree } from "${here}tree.ts";
      import { yamlLibraryLoaded } from "${here}yaml.ts";
      await readConfigTree(${JSON.stringify(dir)});
      console.log(yamlLibraryLoaded());`;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["eval", "--quiet", code],
      stdout: "piped",
      stderr: "inherit",
    }).output();
    assert.ok(out.success);
    return new TextDecoder().decode(out.stdout).trim() === "true";
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("readConfigTree: loads the YAML library only for a file that needs it", async () => {
  const flat = {
    "dmonitor.yaml": "interval: 30s\nconcurrency: 8\n",
    "nodes.txt": "127.0.1.2:2929 n1\n127.0.1.3:2929 n2\n",
    "hosts.d/db1/tcp": "port: 5432\n",
    "hosts.d/db1/ping": "",
  };
  assert.equal(await loadsLibrary(flat), false);
  assert.equal(
    await loadsLibrary({ ...flat, "dmonitor.yaml": "status:\n  allow: [127.0.0.0/8]\n" }),
    true,
  );
});
