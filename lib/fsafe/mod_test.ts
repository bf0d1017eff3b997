import assert from "node:assert/strict";
import { join } from "node:path";
import { libc } from "../runtime/libc.ts";
import {
  listTreeDir,
  listTreeDirSync,
  openNoFollow,
  openNoFollowSync,
  readTreeFile,
  readTreeFileSync,
  readTreeText,
  readTreeTextSync,
  TreeFileError,
} from "./mod.ts";

async function mkfifo(path: string): Promise<void> {
  const r = await new Deno.Command("mkfifo", { args: [path] }).output();
  assert.equal(r.code, 0, "mkfifo");
}

async function fixture(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "dmonitor-fsafe-" });
  await Deno.writeTextFile(join(dir, "plain"), "hello\n");
  await Deno.writeTextFile(join(dir, "big"), "x".repeat(5000));
  await Deno.symlink(join(dir, "plain"), join(dir, "to-plain"));
  await Deno.symlink("/dev/zero", join(dir, "zero"));
  await Deno.symlink(join(dir, "nothing"), join(dir, "dangling"));
  await Deno.symlink("/proc/self/status", join(dir, "proc"));
  await Deno.mkdir(join(dir, "sub"));
  await mkfifo(join(dir, "fifo"));
  return dir;
}

function refused(e: unknown, reason: string, re: RegExp): boolean {
  assert.ok(e instanceof TreeFileError, `a TreeFileError, got ${e}`);
  assert.equal(e.reason, reason, e.message);
  assert.match(e.message, re);
  return true;
}

Deno.test("readTreeFile: regular files and links to them are read", async () => {
  const dir = await fixture();
  try {
    for (const name of ["plain", "to-plain"]) {
      const path = join(dir, name);
      assert.equal(readTreeTextSync(path, { maxBytes: 100 }), "hello\n", name);
      assert.equal(await readTreeText(path, { maxBytes: 100 }), "hello\n", name);
    }
    assert.equal(readTreeFileSync(join(dir, "big"), { maxBytes: 5000 }).length, 5000);
    assert.equal((await readTreeFile(join(dir, "big"), { maxBytes: 5000 })).length, 5000);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readTreeFile: FIFO, device link, directory, dangling link, missing are refused", async () => {
  const dir = await fixture();
  const cases: [string, string, RegExp][] = [
    ["fifo", "not-regular", /fifo: it is a FIFO; only regular files are read$/],
    ["zero", "not-regular", /zero: it links to \/dev\/zero, a character device; only regular/],
    ["sub", "not-regular", /sub: it is a directory/],
    ["dangling", "missing", /dangling: it is a symbolic link to .*nothing, which does not exist/],
    ["absent", "missing", /absent: it does not exist/],
  ];
  try {
    for (const [name, reason, re] of cases) {
      const path = join(dir, name);
      assert.throws(() => readTreeFileSync(path, { maxBytes: 100 }), (e) => refused(e, reason, re));
      await assert.rejects(readTreeFile(path, { maxBytes: 100 }), (e) => refused(e, reason, re));
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readTreeFile: the size cap holds by stat and by what is actually read", async () => {
  const dir = await fixture();
  try {
    const big = join(dir, "big");
    const re = /big: it is 5000 bytes, at most 4999 are read$/;
    assert.throws(
      () => readTreeFileSync(big, { maxBytes: 4999 }),
      (e) => refused(e, "too-large", re),
    );
    await assert.rejects(readTreeFile(big, { maxBytes: 4999 }), (e) => refused(e, "too-large", re));
    // /proc files say size 0 and then produce content: the read itself stops past the cap.
    const proc = join(dir, "proc");
    const cap = /proc: it holds more than 16 bytes, at most 16 are read$/;
    assert.throws(
      () => readTreeFileSync(proc, { maxBytes: 16 }),
      (e) => refused(e, "too-large", cap),
    );
    await assert.rejects(readTreeFile(proc, { maxBytes: 16 }), (e) => refused(e, "too-large", cap));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readTreeFile: an aborted signal releases the caller", async () => {
  const dir = await fixture();
  try {
    const ctl = new AbortController();
    ctl.abort(new Error("stopping"));
    await assert.rejects(
      readTreeFile(join(dir, "plain"), { maxBytes: 100, signal: ctl.signal }),
      (e) => refused(e, "unreadable", /plain: stopping/),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("listTreeDir classifies entries without opening them", async () => {
  const dir = await fixture();
  try {
    for (const list of [listTreeDirSync(dir), await listTreeDir(dir)]) {
      assert.deepEqual(list.map((e) => [e.name, e.kind, e.what]), [
        ["big", "file", "a regular file"],
        ["dangling", "other", "a symbolic link to nothing"],
        ["fifo", "other", "a FIFO"],
        ["plain", "file", "a regular file"],
        ["proc", "file", "a regular file"],
        ["sub", "dir", "a directory"],
        ["to-plain", "file", "a regular file"],
        ["zero", "other", "a link to /dev/zero, a character device"],
      ]);
    }
    assert.throws(
      () => listTreeDirSync(join(dir, "absent")),
      (e) => refused(e, "missing", /absent/),
    );
    await assert.rejects(
      listTreeDir(join(dir, "fifo")),
      (e) => refused(e, "not-regular", /a FIFO/),
    );
    assert.throws(
      () => listTreeDirSync(dir, { maxEntries: 3 }),
      (e) => refused(e, "too-large", /more than 3 entries/),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("openNoFollow: a FIFO opens without blocking, a symbolic link is refused (ELOOP)", async () => {
  // The swap races readTreeFile guards against: a FIFO or a link put in place after the lstat.
  const dir = await fixture();
  try {
    for (const open of [openNoFollowSync, openNoFollow]) {
      // No writer: a blocking open would hang here for good.
      const fd = await open(join(dir, "fifo"));
      try {
        assert.equal(Deno.statSync(`/proc/self/fd/${fd}`).isFifo, true);
      } finally {
        libc()!.close(fd);
      }
      await assert.rejects(
        async () => await open(join(dir, "to-plain")),
        (e) => (e as { code?: string }).code === "ELOOP" && /to-plain/.test(String(e)),
      );
      await assert.rejects(
        async () => await open(join(dir, "absent")),
        (e) => (e as { code?: string }).code === "ENOENT",
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
