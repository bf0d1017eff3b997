/**
 * One server-side connection: authentication, then a loop of `parseCommand` and a dispatch table
 * of handlers, each replying exactly as the reference server does (see protocol.ts for strings).
 * @module
 */

import { createHash } from "node:crypto";
import { constantTimeEqual } from "../secret/mod.ts";
import type { Logger } from "../log/mod.ts";
import { encodeLine, FrameReader } from "./framing.ts";
import { DeadlineError, type Transport } from "./transport.ts";
import { busyReply, type Command, parseCommand, Reply } from "./protocol.ts";
import { download, list, upload } from "./session_files.ts";
import { type Lease, move, safeDone, safeMove } from "./session_moves.ts";
import { type Readable, type Storage, SYNC_IO_MAX, writeAll, writeAllSync } from "./storage.ts";
import { Watchdog } from "./watchdog.ts";

/** What a session needs from its server. */
export interface SessionConfig {
  storage: Storage;
  /** Expected PASS argument (see password.ts), or null without a password. */
  passDigest: string | null;
  insecure: boolean;
  overwrite: boolean;
  maxSize: number;
  maxUnzippedSize: number;
  extensions: boolean;
  /** How long an unconfirmed safe move keeps its file locked. */
  leaseMs: number;
  /** Deadlines against slow clients: see {@link Deadlines}. */
  deadlines: Deadlines;
  logger: Logger;
}

/**
 * Overall deadlines, on top of the idle timeout of each single read or write (which a client
 * sending one byte a second never trips): a command line must be complete within `lineMs` of the
 * server starting to wait for it, and a body of n bytes must be received or sent within
 * `baseMs + n / minRate` seconds. Past either the connection is dropped and the cut is logged.
 */
export interface Deadlines {
  lineMs: number;
  baseMs: number;
  /** Slowest transfer rate tolerated, bytes per second. */
  minRate: number;
}

/** How long a transfer of `size` bytes may take (pure). */
export function transferDeadlineMs(d: Deadlines, size: number): number {
  return Math.ceil(d.baseMs + (size * 1000) / d.minRate);
}

/** After a command: keep reading, or close the connection. */
export type Outcome = "continue" | "close";
type Handler<K extends Command["kind"]> = (
  s: Session,
  cmd: Extract<Command, { kind: K }>,
) => Promise<Outcome>;

const CHUNK = 64 * 1024;

/**
 * The fixed replies, encoded once (a small SEND sends two). Shared buffers are safe on both
 * transports: nothing ever writes into them, and a node socket only holds on to them.
 */
const REPLY_BYTES = new Map<string, Uint8Array>(
  Object.values(Reply).filter((r) => typeof r === "string").map((r) => [r, encodeLine(r)]),
);

/** Serves one connection until QUIT, an unknown command, an error or the server's shutdown. */
export class Session {
  readonly cfg: SessionConfig;
  readonly io: Transport;
  readonly reader: FrameReader;
  readonly peer: string;
  readonly log: Logger;
  /** True while the session waits for the next command (safe to drop on shutdown). */
  idle = false;
  /** Set by the server's shutdown: finish the current command, then stop. */
  stopping = false;
  /** Files sent by SMV and not yet confirmed, by path. */
  readonly leases = new Map<string, Lease>();

  /** The command-line deadline (shorter for a connection that is only answered "busy"). */
  lineMs: number;

  constructor(cfg: SessionConfig, io: Transport, peer: string, opts: { maxLine: number }) {
    this.cfg = cfg;
    this.io = io;
    this.peer = peer;
    this.reader = new FrameReader(io, { maxLine: opts.maxLine });
    this.log = cfg.logger;
    this.lineMs = cfg.deadlines.lineMs;
  }

  /**
   * Runs one I/O step under an overall deadline; past it the connection is dropped (which also
   * ends the step) and a DeadlineError names what was too slow. Steps run one at a time; one
   * watchdog timer serves them all (armed once per deadline period, not once per step).
   */
  async within<T>(ms: number, what: string, step: () => Promise<T>, size?: number): Promise<T> {
    this.#expired = false;
    this.#watchdog.arm(performance.now() + ms);
    try {
      const out = await step();
      if (this.#expired) throw deadline(what, ms, size);
      return out;
    } catch (e) {
      if (this.#expired && !(e instanceof DeadlineError)) throw deadline(what, ms, size, e);
      throw e;
    } finally {
      this.#watchdog.disarm();
    }
  }

  #expired = false;
  readonly #watchdog = new Watchdog(() => {
    this.#expired = true;
    this.io.destroy();
  });

  /** The next command line, under the line deadline; null when the client closed. */
  readCommand(): Promise<string | null> {
    return this.within(this.lineMs, "command line", () => this.reader.readLine());
  }

  /** Writes a body (LS answer, probe) under the transfer deadline of its size. */
  writeBody(body: Uint8Array): Promise<void> {
    const ms = transferDeadlineMs(this.cfg.deadlines, body.length);
    return this.within(ms, `sending ${body.length} bytes`, () => this.io.write(body));
  }

  reply(line: string): Promise<void> {
    return this.io.write(REPLY_BYTES.get(line) ?? encodeLine(line));
  }

  /** Runs the session; `busy` answers the first command with a refusal and stops. */
  async run(busy = false): Promise<void> {
    try {
      await this.#loop(busy);
    } finally {
      this.#watchdog.stop();
      // Unconfirmed safe moves: the files stay where they are, free for the next puller.
      for (const lease of this.leases.values()) {
        clearTimeout(lease.timer);
        lease.release();
      }
      if (this.leases.size > 0) {
        this.log.info("connection ended with unconfirmed safe moves, files kept", {
          peer: this.peer,
          count: this.leases.size,
        });
      }
      this.leases.clear();
    }
  }

  async #loop(busy: boolean): Promise<void> {
    if (this.cfg.passDigest !== null && !(await this.#authenticate())) return;
    while (!this.stopping) {
      this.idle = true;
      const line = await this.readCommand();
      this.idle = false;
      if (line === null) return; // the client closed without QUIT
      const cmd = parseCommand(line);
      if (busy) {
        const answer = busyReply(cmd);
        this.log.warn("connection limit reached, refused", { peer: this.peer, command: cmd.kind });
        if (answer) await this.reply(answer);
        return;
      }
      const outcome = await (HANDLERS[cmd.kind] as Handler<typeof cmd.kind>)(this, cmd);
      if (outcome === "close") return;
    }
  }

  async #authenticate(): Promise<boolean> {
    this.idle = true;
    const line = await this.readCommand();
    this.idle = false;
    if (line === null) return false;
    const cmd = parseCommand(line);
    if (cmd.kind !== "PASS") {
      this.log.info("client did not authenticate", { peer: this.peer });
      return false;
    }
    if (!constantTimeEqual(this.cfg.passDigest!, cmd.digest)) {
      this.log.info("invalid password", { peer: this.peer });
      return false;
    }
    this.log.debug("client authenticated", { peer: this.peer });
    await this.reply(Reply.passOk);
    return true;
  }

  /** Receives exactly `size` body bytes into an open file. */
  receiveInto(file: Deno.FsFile, size: number): Promise<void> {
    const ms = transferDeadlineMs(this.cfg.deadlines, size);
    const sink = size <= SYNC_IO_MAX
      ? (piece: Uint8Array) => writeAllSync(file, piece)
      : (piece: Uint8Array) => writeAll(file, piece);
    return this.within(ms, "receiving", () => this.reader.readBodyTo(size, sink), size);
  }

  /** Sends `size` bytes of an open file; feeds `hash` on the way. Fails if the file is short. */
  sendFrom(file: Readable, size: number, hash?: ReturnType<typeof createHash>): Promise<void> {
    const ms = transferDeadlineMs(this.cfg.deadlines, size);
    return this.within(ms, `sending ${size} bytes`, () => this.#sendFrom(file, size, hash));
  }

  async #sendFrom(file: Readable, size: number, hash?: ReturnType<typeof createHash>) {
    let left = size;
    // One buffer for the whole file when writes complete on resolve; else fresh ones, because a
    // node socket keeps a reference to what it was given until it is flushed.
    const shared = this.io.reusableWrites ? new Uint8Array(Math.min(CHUNK, size)) : null;
    while (left > 0) {
      const want = Math.min(CHUNK, left);
      const buf = shared ? shared.subarray(0, want) : new Uint8Array(want);
      const n = await file.read(buf);
      if (n === null) throw new Error(`file shrank while being sent (${size - left} of ${size})`);
      const piece = buf.subarray(0, n);
      hash?.update(piece);
      await this.io.write(piece);
      left -= n;
    }
  }

  /** Reads the client's go-ahead; null means it closed. */
  ack(): Promise<string | null> {
    return this.readCommand();
  }
}

/** What a step past its deadline is reported as (built only then: not on every step). */
function deadline(what: string, ms: number, size?: number, cause?: unknown): DeadlineError {
  const of = size === undefined ? "" : ` ${size} bytes`;
  return new DeadlineError(`${what}${of} not done within ${ms} ms`, undefined, { cause });
}

/** The dispatch table: one handler per command kind. */
const HANDLERS: { [K in Command["kind"]]: Handler<K> } = {
  SEND: (s, c) => upload(s, c, false),
  ZSEND: (s, c) => upload(s, c, true),
  RECV: (s, c) => download(s, c.name, false),
  ZRECV: (s, c) => download(s, c.name, true),
  LS: (s, c) => list(s, c),
  MV: (s, c) => move(s, c),
  SMV: (s, c) => safeMove(s, c),
  SMVDONE: (s, c) => safeDone(s, c),
  QUIT: (s) => {
    s.log.debug("connection closed by QUIT", { peer: s.peer });
    return Promise.resolve("close");
  },
  // PASS after authentication, or to a server without a password, is unknown to the reference.
  PASS: (s) => unknown(s, "PASS"),
  unknown: (s, c) => unknown(s, c.line),
};

function unknown(s: Session, line: string): Promise<Outcome> {
  s.log.info("unknown command, closing", { peer: s.peer, command: line.slice(0, 80) });
  return Promise.resolve("close");
}
