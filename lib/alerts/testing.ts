/**
 * Test helpers for lib/alerts: a real SMTP server on loopback (npm smtp-server, with STARTTLS
 * and AUTH using the certificates in testdata/alerts/), a webhook receiver, a manual clock, sample
 * notifications and a temporary SQLite database. Not part of the public surface.
 * @module
 */
import { DatabaseSync } from "node:sqlite";
// Test-only dependency, kept out of deno.json's imports on purpose (nothing shipped uses it).
// deno-lint-ignore no-import-prefix
import { SMTPServer } from "npm:smtp-server@^3";
import type { Notification } from "../quorum/types.ts";
import type { Clock } from "./types.ts";

export const TESTDATA = new URL("../../testdata/alerts/", import.meta.url).pathname;
export const CA_FILE = TESTDATA + "ca.crt";

/** 2025-03-01 12:00:00 UTC. */
export const T0 = Date.UTC(2025, 2, 1, 12, 0, 0);

/** A down notification confirmed by 2 of 3 nodes. */
export function sampleDown(over: Partial<Notification> = {}): Notification {
  return {
    id: "n-down-1",
    kind: "down",
    incidentId: "inc-42",
    host: "www.example.com",
    test: "ssh",
    startedAt: T0,
    endedAt: null,
    votes: [
      { node: "node1", status: "FAIL", output: "connection refused", at: T0 + 3_000 },
      { node: "node2", status: "TIMEOUT", output: "timed out after 10s", at: T0 + 4_000 },
      { node: "node3-long", status: "OK", output: "SSH-2.0-OpenSSH_9.2", at: T0 + 4_000 },
    ],
    nodesTotal: 3,
    notifier: "node1",
    site: null,
    ...over,
  };
}

/** A clock that moves only when told; `sleep` resolves once `advance` passes its deadline. */
export function manualClock(start = T0): Clock & { advance(ms: number): void; sleepers(): number } {
  let now = start;
  const waiting: { until: number; resolve: () => void }[] = [];
  return {
    now: () => now,
    sleep(ms, signal) {
      return new Promise<void>((resolve) => {
        if (signal?.aborted) return resolve();
        const entry = { until: now + ms, resolve };
        waiting.push(entry);
        signal?.addEventListener("abort", () => {
          waiting.splice(waiting.indexOf(entry), 1);
          resolve();
        }, { once: true });
      });
    },
    advance(ms) {
      now += ms;
      for (const w of waiting.filter((w) => w.until <= now)) {
        waiting.splice(waiting.indexOf(w), 1);
        w.resolve();
      }
    },
    sleepers: () => waiting.length,
  };
}

/** A fresh SQLite database in a temporary directory, WAL like the node's. */
export async function tempDb(): Promise<
  { db: DatabaseSync; path: string; dir: string } & AsyncDisposable
> {
  const dir = await Deno.makeTempDir({ prefix: "dmonitor-alerts-" });
  const path = `${dir}/state.sqlite`;
  const db = new DatabaseSync(path);
  db.exec("PRAGMA journal_mode=WAL");
  return {
    db,
    path,
    dir,
    async [Symbol.asyncDispose]() {
      if (db.isOpen) db.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

export interface ReceivedMail {
  from: string;
  to: string[];
  raw: string;
  /** True when the session was encrypted (STARTTLS or implicit TLS) when DATA arrived. */
  secure: boolean;
  /** Authenticated user name, or null. */
  user: string | null;
}

export interface SmtpServerOptions {
  /** plain: no TLS offered; starttls: STARTTLS offered; implicit: TLS from the first byte. */
  tls?: "plain" | "starttls" | "implicit";
  /** Require AUTH with these credentials (over TLS unless `tls` is plain). */
  auth?: { user: string; pass: string };
  /** Reject matching recipients at RCPT TO with this code (e.g. 550 permanent, 450 temporary). */
  reject?: (address: string) => number | null;
  /** Listen on this port (to bring a server back where it was); default any free port. */
  port?: number;
}

export interface SmtpServerHandle extends AsyncDisposable {
  port: number;
  mails: ReceivedMail[];
  /** Errors the server saw (a client refusing its certificate, ...). */
  errors: Error[];
  /** Resolves once at least `count` mails arrived (rejects after a few seconds). */
  waitFor(count: number): Promise<void>;
  close(): Promise<void>;
}

/** Starts a real SMTP server on 127.0.0.1 that records every accepted message. */
export async function startSmtpServer(opts: SmtpServerOptions = {}): Promise<SmtpServerHandle> {
  const tls = opts.tls ?? "plain";
  const mails: ReceivedMail[] = [];
  let wake = () => {};
  const server = new SMTPServer({
    secure: tls === "implicit",
    key: tls === "plain" ? undefined : Deno.readTextFileSync(TESTDATA + "server.key"),
    cert: tls === "plain" ? undefined : Deno.readTextFileSync(TESTDATA + "server.crt"),
    disabledCommands: [...(tls === "plain" ? ["STARTTLS"] : []), ...(opts.auth ? [] : ["AUTH"])],
    authOptional: !opts.auth,
    allowInsecureAuth: tls === "plain",
    closeTimeout: 200,
    onAuth(auth, _session, cb) {
      const ok = auth.username === opts.auth?.user && auth.password === opts.auth?.pass;
      if (!ok) return cb(Object.assign(new Error("bad credentials"), { responseCode: 535 }));
      cb(null, { user: auth.username });
    },
    onRcptTo(address, _session, cb) {
      const code = opts.reject?.(address.address) ?? null;
      if (code !== null) {
        return cb(Object.assign(new Error("mailbox unavailable"), { responseCode: code }));
      }
      cb();
    },
    onData(stream, session, cb) {
      const chunks: Uint8Array[] = [];
      stream.on("data", (c: Uint8Array) => chunks.push(c));
      stream.on("end", () => {
        const from = session.envelope.mailFrom;
        mails.push({
          from: from ? from.address : "",
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: new TextDecoder().decode(concat(chunks)),
          secure: session.secure,
          user: typeof session.user === "string" ? session.user : null,
        });
        wake();
        cb();
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, "127.0.0.1", () => resolve());
  });
  // Client-side TLS refusals surface as server errors; they are expected in tests, not fatal.
  const errors: Error[] = [];
  server.on("error", (e: Error) => errors.push(e));
  const address = server.server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return {
    port,
    mails,
    errors,
    async waitFor(count) {
      const deadline = Date.now() + 5_000;
      while (mails.length < count) {
        if (Date.now() > deadline) throw new Error(`expected ${count} mails, got ${mails.length}`);
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, 50);
        });
      }
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

export interface ReceivedRequest {
  method: string;
  path: string;
  headers: Headers;
  body: string;
}

/**
 * A webhook receiver on 127.0.0.1 port 0. `respond(n)` picks the nth answer: a status, a
 * redirect (`"redirect"`), or `"hang"` (never answers until the receiver is disposed).
 */
export function startReceiver(
  respond: (n: number) => number | "redirect" | "hang" = () => 200,
): { url: string; requests: ReceivedRequest[] } & AsyncDisposable {
  const requests: ReceivedRequest[] = [];
  let release = () => {};
  const released = new Promise<void>((r) => release = r);
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    requests.push({
      method: req.method,
      path: new URL(req.url).pathname,
      headers: req.headers,
      body: await req.text(),
    });
    const answer = respond(requests.length);
    if (answer === "hang") {
      await released;
      return new Response("late", { status: 200 });
    }
    if (answer === "redirect") {
      return new Response(null, { status: 302, headers: { location: "/elsewhere" } });
    }
    return new Response(answer === 200 ? "ok" : `status ${answer}`, { status: answer });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}/hook`,
    requests,
    async [Symbol.asyncDispose]() {
      release();
      await server.shutdown();
    },
  };
}

/** A header's value in a raw RFC 5322 message (unfolded), or null. */
export function header(raw: string, name: string): string | null {
  const head = raw.split(/\r?\n\r?\n/)[0]!.replace(/\r?\n[ \t]+/g, " ");
  for (const line of head.split(/\r?\n/)) {
    const i = line.indexOf(":");
    if (i > 0 && line.slice(0, i).toLowerCase() === name.toLowerCase()) {
      return line.slice(i + 1).trim();
    }
  }
  return null;
}
