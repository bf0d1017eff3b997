import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { Outbox } from "./outbox.ts";
import { messageId } from "./render.ts";
import { header, startSmtpServer, tempDb } from "./testing.ts";

const CHILD = new URL("./crash_child_testing.ts", import.meta.url).pathname;

function child(...args: string[]): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-lock", "--no-check", CHILD, ...args],
    stdout: "piped",
    stderr: "inherit",
    stdin: "null",
  }).spawn();
}

/** Reads the child's stdout until `line` appears (or fails after a while). */
async function waitForLine(proc: Deno.ChildProcess, line: string): Promise<void> {
  const reader = proc.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  const deadline = setTimeout(() => reader.cancel(), 30_000);
  try {
    while (!seen.split("\n").includes(line)) {
      const { done, value } = await reader.read();
      if (done) {
        throw new Error(`child ended before printing ${line}; it printed ${JSON.stringify(seen)}`);
      }
      seen += value;
    }
  } finally {
    clearTimeout(deadline);
    reader.releaseLock();
  }
}

/** Starts the child in `mode`, SIGKILLs it once it printed `line`, and waits for it to end. */
async function killAt(mode: string, path: string, line: string): Promise<void> {
  const p = child(mode, path);
  await waitForLine(p, line);
  p.kill("SIGKILL");
  await p.status;
  await p.stdout.cancel().catch(() => {});
}

async function run(...args: string[]): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-lock", "--no-check", CHILD, ...args],
    stdin: "null",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
  return text;
}

Deno.test("outbox: a node SIGKILLed between queueing and sending delivers once after restart", async () => {
  await using server = await startSmtpServer();
  await using t = await tempDb();
  t.db.close();

  const first = child("enqueue", t.path);
  await waitForLine(first, "sending");
  first.kill("SIGKILL");
  const status = await first.status;
  await first.stdout.cancel().catch(() => {});
  assertEquals(status.signal, "SIGKILL");
  assertEquals(server.mails.length, 0, "nothing reached the server before the kill");

  // Straight after the restart the dead process's lease still holds: nothing is sent twice.
  assertEquals(await run("deliver", t.path, String(server.port), "0"), "nothing due\npending=1\n");
  // Once the lease has run out, the second process delivers it.
  const later = String(10 * 60_000);
  assertEquals(
    await run("deliver", t.path, String(server.port), later),
    "ops@example.com sent\npending=0\n",
  );
  assertEquals(
    await run("deliver", t.path, String(server.port), later),
    "nothing due\npending=0\n",
  );

  assertEquals(server.mails.length, 1);
  assertEquals(
    header(server.mails[0]!.raw, "Message-ID"),
    messageId("n-down-1", "ops@example.com", "node1"),
  );
  const db = new DatabaseSync(t.path);
  const [row] = new Outbox(db).byNotification("n-down-1");
  db.close();
  assertEquals([row!.status, row!.attempts], ["sent", 2]);
});

Deno.test("outbox: a node SIGKILLed mid-send sends again as soon as it starts again, not after the lease", async () => {
  await using server = await startSmtpServer();
  await using t = await tempDb();
  t.db.close();
  await killAt("enqueue", t.path, "sending");
  const db = new DatabaseSync(t.path);
  const [held] = new Outbox(db).byNotification("n-down-1");
  db.close();
  // The dead process's lease runs three minutes (send timeout + 60 s) ahead.
  assertEquals(held!.nextAt > Date.now() + 60_000, true);
  // The child gives up after 20 s: sent in that time means sent at the start, not at the lease.
  assertEquals(await run("restart", t.path, String(server.port)), "pending=0\n");
  assertEquals(server.mails.map((m) => m.to), [["ops@example.com"]]);
  const db2 = new DatabaseSync(t.path);
  const [row] = new Outbox(db2).byNotification("n-down-1");
  db2.close();
  assertEquals([row!.status, row!.attempts], ["sent", 2]);
});

Deno.test("outbox: a node SIGKILLed right after queueing delivers once on the next start", async () => {
  await using server = await startSmtpServer();
  await using t = await tempDb();
  t.db.close();
  await killAt("queue-only", t.path, "queued");
  assertEquals(
    await run("deliver", t.path, String(server.port), "0"),
    "ops@example.com sent\npending=0\n",
  );
  assertEquals(await run("deliver", t.path, String(server.port), "0"), "nothing due\npending=0\n");
  assertEquals(server.mails.map((m) => m.to), [["ops@example.com"]]);
});
