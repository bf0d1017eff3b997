// The pure decisions: who a root-started process becomes, and what happens to its state directory.
import assert from "node:assert/strict";
import { type DirInfo, planDrop, stateDirAction } from "./plan.ts";
import { parseStatus, parseThreads, privilegedBy } from "./threads.ts";
import { runAsProblems } from "./mod.ts";

const ROOT = "root:x:0:0:root:/root:/bin/bash\n";
const NOBODY = "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n";
const DMON = "dmonitor:x:998:997::/var/lib/dmonitor:/usr/sbin/nologin\n";
const TOOR = "toor:x:0:0::/root:/bin/sh\n";
const ALICE = "alice:x:1000:1000::/home/alice:/bin/sh\n";

Deno.test("planDrop: a table of uid, run_as and /etc/passwd", () => {
  const cases: {
    name: string;
    uid: number;
    runAs?: string;
    passwd: string;
    root?: false;
    want: unknown;
  }[] = [
    {
      name: "root, default: dmonitor when it exists",
      uid: 0,
      passwd: ROOT + DMON + NOBODY,
      want: { kind: "drop", user: "dmonitor", uid: 998, gid: 997 },
    },
    {
      name: "root, default: nobody when dmonitor does not exist",
      uid: 0,
      passwd: ROOT + NOBODY,
      want: {
        kind: "drop",
        user: "nobody",
        uid: 65534,
        gid: 65534,
        note: "user dmonitor does not exist",
      },
    },
    {
      name: "root, default: a dmonitor entry with uid 0 is not taken",
      uid: 0,
      passwd: ROOT + "dmonitor:x:0:0::/:/bin/sh\n" + NOBODY,
      want: {
        kind: "drop",
        user: "nobody",
        uid: 65534,
        gid: 65534,
        note: "user dmonitor does not exist",
      },
    },
    {
      name: "root, neither user: refused",
      uid: 0,
      passwd: ROOT,
      want: {
        kind: "refuse",
        message: "neither user dmonitor nor nobody exists in /etc/passwd; create one or set run_as",
      },
    },
    {
      name: "root, run_as names a user",
      uid: 0,
      runAs: "alice",
      passwd: ROOT + DMON + ALICE,
      want: { kind: "drop", user: "alice", uid: 1000, gid: 1000 },
    },
    {
      name: "root, run_as names a missing user: refused, no fallback",
      uid: 0,
      runAs: "bob",
      passwd: ROOT + NOBODY,
      want: { kind: "refuse", message: "run_as bob: no such user in /etc/passwd" },
    },
    {
      name: "root, run_as names a uid-0 alias: refused",
      uid: 0,
      runAs: "toor",
      passwd: ROOT + TOOR,
      want: {
        kind: "refuse",
        message: "run_as toor has uid 0; write run_as: root to keep root on purpose",
      },
    },
    {
      name: "root, run_as: root keeps root with a warning",
      uid: 0,
      runAs: "root",
      passwd: ROOT,
      want: {
        kind: "keep-root",
        warning:
          "run_as: root keeps every part of the node running as root (listeners, parsers, checks); prefer an unprivileged user",
      },
    },
    {
      name: "root, tentacle-server never keeps root",
      uid: 0,
      runAs: "root",
      passwd: ROOT,
      root: false,
      want: { kind: "refuse", message: "for safety reasons it cannot keep root privileges" },
    },
    { name: "not root, default: stays", uid: 998, passwd: ROOT + DMON, want: { kind: "stay" } },
    {
      name: "not root, run_as is this user: stays silently",
      uid: 998,
      runAs: "dmonitor",
      passwd: ROOT + DMON,
      want: { kind: "stay" },
    },
    {
      name: "not root, run_as someone else: stays with a warning (as nginx's user directive)",
      uid: 998,
      runAs: "alice",
      passwd: ROOT + DMON + ALICE,
      want: {
        kind: "stay",
        warning:
          "run_as alice is ignored: dmonitor was not started as root (uid 998) and cannot switch user",
      },
    },
  ];
  for (const c of cases) {
    const opts = c.root === false ? { allowRoot: false } : {};
    assert.deepEqual(planDrop(c.uid, c.runAs, c.passwd, opts), c.want, c.name);
  }
});

Deno.test("stateDirAction: created, handed over when root's and holding only the database, else writable or refused", () => {
  const dir = (uid: number, gid: number, mode: number, entries: DirInfo["entries"] = []) => ({
    uid,
    gid,
    mode,
    entries,
  });
  const fix = "; dmonitor switches to that user after starting as root: chown -R nobody: /s";
  const cases: { name: string; info: DirInfo | null; want: unknown }[] = [
    { name: "missing", info: null, want: { kind: "take", files: [] } },
    {
      name: "root's and empty (mktemp)",
      info: dir(0, 0, 0o40700),
      want: { kind: "take", files: [] },
    },
    {
      name: "root's with only a database left by a root run or `dmonitor outbox`",
      info: dir(0, 0, 0o40755, [{ name: "state.db", uid: 0 }, { name: "state.db-wal", uid: 0 }]),
      want: { kind: "take", files: ["state.db", "state.db-wal"] },
    },
    { name: "the user's", info: dir(65534, 65534, 0o40750), want: { kind: "ok" } },
    {
      name: "group-writable for the user's group",
      info: dir(0, 65534, 0o40770, [{ name: "state.db", uid: 65534 }, { name: "x", uid: 0 }]),
      want: { kind: "ok" },
    },
    {
      name: "root's, holding something else besides",
      info: dir(0, 0, 0o40755, [{ name: "state.db", uid: 0 }, { name: "lib", uid: 0 }]),
      want: {
        kind: "refuse",
        message: `state_dir /s is not writable by user nobody (owner uid 0, mode 0755)${fix}`,
      },
    },
    {
      name: "root's, with state.db not a regular file",
      info: dir(0, 0, 0o40755, [{ name: "state.db", uid: 0, file: false }]),
      want: {
        kind: "refuse",
        message: `state_dir /s is not writable by user nobody (owner uid 0, mode 0755)${fix}`,
      },
    },
    {
      name: "the user's, with a database of root's: not chowned inside a directory the user owns",
      info: dir(65534, 65534, 0o40750, [{ name: "state.db-wal", uid: 0 }]),
      want: { kind: "refuse", message: `/s/state.db-wal is owned by uid 0, not user nobody${fix}` },
    },
    {
      name: "another user's and closed",
      info: dir(1000, 1000, 0o40700),
      want: {
        kind: "refuse",
        message: `state_dir /s is not writable by user nobody (owner uid 1000, mode 0700)${fix}`,
      },
    },
  ];
  for (const c of cases) {
    assert.deepEqual(stateDirAction("/s", c.info, "nobody", 65534, 65534), c.want, c.name);
  }
});

Deno.test("parseStatus and privilegedBy read /proc status lines", () => {
  const status = (uid: string, groups: string, cap: string) =>
    `Name:\tdeno\nUid:\t${uid}\nGid:\t65534\t65534\t65534\t65534\nGroups:\t${groups}\nCapEff:\t${cap}\n`;
  const dropped = parseStatus(status("65534\t65534\t65534\t65534", "", "0000000000000000"))!;
  assert.deepEqual(dropped.groups, []);
  assert.equal(privilegedBy(dropped), null);
  assert.equal(
    privilegedBy(parseStatus(status("65534\t65534\t0\t65534", "", "0000000000000000"))!),
    "uid 65534/65534/0/65534",
  );
  assert.equal(
    privilegedBy(parseStatus(status("65534\t65534\t65534\t65534", "0 4", "0000000000000000"))!),
    "groups 0,4",
  );
  assert.equal(
    privilegedBy(parseStatus(status("65534\t65534\t65534\t65534", "", "0000000000002000"))!),
    "capabilities 0000000000002000",
  );
  assert.equal(parseStatus("Name:\tdeno\n"), null);
});

Deno.test("run_as must be a user name", () => {
  const of = (v: unknown) => runAsProblems(v);
  assert.deepEqual(of("dmonitor"), []);
  assert.deepEqual(of("root"), []);
  assert.deepEqual(of(undefined), []);
  assert.deepEqual(of("bad name"), [{
    file: "dmonitor.yaml",
    key: "run_as",
    message: 'must be a user name (or root to keep root), got "bad name"',
  }]);
});

Deno.test("parseThreads splits the shell's listing per thread", () => {
  const one = (uid: number) =>
    `Uid:\t${uid}\t${uid}\t${uid}\t${uid}\nGid:\t1\t1\t1\t1\nGroups:\t\nCapEff:\t0\n`;
  const got = parseThreads(`== 10\n${one(5)}== 11\n${one(0)}== 12\nName:\tgone\n`);
  assert.deepEqual([...got.keys()], [10, 11]);
  assert.equal(privilegedBy(got.get(10)!), null);
  assert.equal(privilegedBy(got.get(11)!), "uid 0/0/0/0");
});
