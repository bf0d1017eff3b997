/**
 * The Tentacle client as a library: one connection, strictly lock-step (it never sends ahead of a
 * reply, which the reference server requires), bodies streamed to and from disk, received files
 * written to a hidden temporary file, fsynced and renamed. With a dmonitor server it can use the
 * safe move (SMV), which deletes the remote file only after we confirm length and SHA-256.
 * @module
 */

import { createHash } from "node:crypto";
import { dirname, join } from "node:path";
import { PeerError, ProtocolError } from "../errors/mod.ts";
import { encodeLine, FrameReader } from "./framing.ts";
import {
  Ack,
  checkName,
  DEFAULT_PORT,
  FEATURE_SMV,
  isBusyReply,
  MAX_LEASES,
  MAX_LINE,
  parseProbe,
  PROBE_NAME,
  smvDone,
} from "./protocol.ts";
import { passwordDigest } from "./password.ts";
import { SYNC_IO_MAX, TEMP_PREFIX, writeAll } from "./storage.ts";
import {
  discard,
  encodeLines,
  type Fetched,
  openTemp,
  openTransport,
  type TempFile,
} from "./client_io.ts";
import { ConnectionClosedError, IdleTimeoutError, type Transport } from "./transport.ts";
import { extractZip, writeZip } from "./zip.ts";
import type { TentacleClientOptions } from "./client_types.ts";

export type { TentacleClientOptions, TentacleClientTls } from "./client_types.ts";

/** What a move delivered. */
export interface MoveResult {
  name: string;
  size: number;
  sha256: string;
  /** True when the server confirmed it deleted the file after checking our length and SHA-256. */
  confirmed: boolean;
}

const CHUNK = 64 * 1024;
const MAX_LIST = 64 * 1024 * 1024;
const MAX_PROBE = 4096;

/** A connection to a Tentacle server. */
export class TentacleClient {
  readonly options: TentacleClientOptions;
  /** Extension features the server offered (empty for a reference server or without probe). */
  features: Set<string> = new Set();
  #io: Transport | null = null;
  #reader: FrameReader | null = null;
  #broken = false;

  constructor(options: TentacleClientOptions = {}) {
    this.options = options;
  }

  /** Connects, authenticates and probes, in one call. */
  static async connect(options: TentacleClientOptions = {}): Promise<TentacleClient> {
    const c = new TentacleClient(options);
    await c.connect();
    return c;
  }

  get peer(): string {
    return `${this.options.host ?? "127.0.0.1"}:${this.options.port ?? DEFAULT_PORT}`;
  }

  /** True when the server is a dmonitor server offering the safe move. */
  get safeMove(): boolean {
    return this.features.has(FEATURE_SMV);
  }

  /** Opens the connection (TLS from the first byte if configured), sends PASS, probes. */
  async connect(): Promise<void> {
    const o = this.options;
    const idleMs = o.idleTimeoutMs ?? 4000;
    this.#io = await openTransport(o, idleMs, this.peer);
    this.#reader = new FrameReader(this.#io, { maxLine: MAX_LINE });
    if (o.password !== undefined && o.password !== "") {
      let failure: unknown = null;
      const reply = await this.#command(`PASS ${passwordDigest(o.password)}`).catch((e) => {
        failure = e;
        return null;
      });
      if (reply !== "PASS OK") {
        this.close();
        // The reference closes silently on a wrong password, so a closed connection says the same.
        throw new ProtocolError(`Authentication failed with ${this.peer}.`, reply ?? undefined, {
          cause: failure,
        });
      }
    }
    if (o.probe ?? true) await this.#probe();
  }

  async #probe(): Promise<void> {
    const reply = await this.#command(`RECV <${PROBE_NAME}>`);
    const m = reply.match(/^RECV SIZE (\d+)$/);
    if (!m) return; // a reference server: "RECV ERR (file does not exist)", session goes on
    const size = Number(m[1]);
    if (size > MAX_PROBE) {
      await this.#line("RECV ERR"); // any answer but RECV OK cancels; the session goes on
      return;
    }
    await this.#line(Ack.RECV);
    const body = await this.#guard(() => this.#reader!.readExactly(size));
    this.features = parseProbe(new TextDecoder().decode(body)) ?? new Set();
  }

  #need(): { io: Transport; reader: FrameReader } {
    if (!this.#io || !this.#reader || this.#broken) {
      throw new PeerError(this.peer, `Tentacle connection to ${this.peer} is not open`);
    }
    return { io: this.#io, reader: this.#reader };
  }

  /** Runs an I/O step; any failure leaves the connection unusable (we lost the framing). */
  async #guard<T>(step: () => Promise<T>): Promise<T> {
    try {
      return await step();
    } catch (e) {
      this.#broken = true;
      this.#io?.destroy();
      if (e instanceof PeerError) throw e;
      // Protocol violations stay ProtocolErrors; a dead or silent connection is the peer's fault.
      const transport = e instanceof ConnectionClosedError || e instanceof IdleTimeoutError;
      if (e instanceof ProtocolError && !transport) throw e;
      const why = e instanceof Error ? e.message : String(e);
      throw new PeerError(this.peer, `Connection to ${this.peer} failed: ${why}`, { cause: e });
    }
  }

  #line(line: string): Promise<void> {
    const { io } = this.#need();
    return this.#guard(() => io.write(encodeLine(line)));
  }

  /** Sends one line and reads the one-line reply. */
  async #command(line: string): Promise<string> {
    await this.#line(line);
    return await this.#reply();
  }

  #refused(reply: string): ProtocolError {
    const busy = isBusyReply(reply) ? " (busy; retry later)" : "";
    return new ProtocolError(`Server responded ${reply}.${busy}`, reply);
  }

  /** Uploads a file (path) or bytes as `name`; `compress` uses ZSEND. */
  async send(name: string, source: string | Uint8Array, opts: { compress?: boolean } = {}) {
    const why = checkName(name);
    if (why) throw new ProtocolError(`Cannot send '${name}': invalid file name (${why})`);
    const word = opts.compress ? "ZSEND" : "SEND";
    const cleanup: string[] = [];
    try {
      let path = typeof source === "string" ? source : null;
      if (path === null) {
        path = await Deno.makeTempFile({ prefix: "dmonitor-tentacle-" });
        cleanup.push(path);
        await Deno.writeFile(path, source as Uint8Array);
      }
      if (opts.compress) {
        const zip = await Deno.makeTempFile({ prefix: "dmonitor-tentacle-", suffix: ".zip" });
        cleanup.push(zip);
        await writeZip(path, zip, name);
        path = zip;
      }
      // Opening and fstat are synchronous, and so is reading a body of one chunk: each takes
      // microseconds, less than the hop to the blocking pool an async call makes (see storage.ts).
      using file = Deno.openSync(path, { read: true });
      const size = file.statSync().size;
      let reply = await this.#command(`${word} <${name}> SIZE ${size}`);
      if (reply !== `${word} OK`) throw this.#refused(reply);
      const { io } = this.#need();
      await this.#guard(async () => {
        let left = size;
        const shared = io.reusableWrites ? new Uint8Array(Math.min(CHUNK, size)) : null;
        const small = size <= SYNC_IO_MAX;
        while (left > 0) {
          const want = Math.min(CHUNK, left);
          const buf = shared ? shared.subarray(0, want) : new Uint8Array(want);
          const n = small ? file.readSync(buf) : await file.read(buf);
          if (n === null || n === 0) throw new Error(`file ${path} shrank while being sent`);
          await io.write(buf.subarray(0, n));
          left -= n;
        }
      });
      reply = await this.#reply();
      if (reply !== `${word} OK`) throw this.#refused(reply);
    } finally {
      for (const p of cleanup) await Deno.remove(p).catch(() => {});
    }
  }

  /** Reads one reply line; the server closing instead is a PeerError. */
  async #reply(): Promise<string> {
    const { reader } = this.#need();
    const reply = await this.#guard(() => reader.readLine());
    if (reply === null) {
      this.#broken = true;
      this.#io?.destroy();
      throw new PeerError(this.peer, `Connection to ${this.peer} unexpectedly closed.`);
    }
    return reply;
  }

  /** Downloads `name` into the file `dest` (atomically); `compress` uses ZRECV. */
  async recv(
    name: string,
    dest: string,
    opts: { compress?: boolean } = {},
  ): Promise<{ size: number }> {
    const word = opts.compress ? "ZRECV" : "RECV";
    const tmp = await openTemp(dest);
    let zip: string | null = null;
    try {
      const size = await this.#announced(`${word} <${name}>`, word);
      await this.#line(word === "RECV" ? Ack.RECV : Ack.ZRECV);
      let final = size;
      if (!opts.compress) {
        await this.#receive(tmp.file, size);
      } else {
        zip = join(dirname(dest), `${TEMP_PREFIX}${crypto.randomUUID()}.zip`);
        {
          using zf = await Deno.open(zip, { write: true, createNew: true });
          await this.#receive(zf, size);
        }
        final = await extractZip(zip, tmp.file, this.options.maxUnzippedSize ?? 1024 ** 3);
      }
      await this.#settle([{ tmp, dest }]);
      return { size: final };
    } catch (e) {
      await discard(tmp);
      throw e;
    } finally {
      if (zip) await Deno.remove(zip).catch(() => {});
    }
  }

  /** Sends a command announcing a size (`<WORD> SIZE n`); anything else is a refusal. */
  async #announced(command: string, word: string): Promise<number> {
    const reply = await this.#command(command);
    const m = reply.match(/^(\S+) SIZE (\d+)$/);
    if (!m || m[1] !== word) throw this.#refused(reply);
    return Number(m[2]);
  }

  /** Lists what the server routes `filter` to (insecure servers only), without `.` and `..`. */
  async ls(filter = ""): Promise<string[]> {
    const size = await this.#announced(`LS <${filter}>`, "LS");
    if (size > MAX_LIST) {
      await this.#line("LS ERR");
      throw new ProtocolError(`LS answer of ${size} bytes is too big`);
    }
    await this.#line(Ack.LS);
    const { reader } = this.#need();
    const body = await this.#guard(() => reader.readExactly(size));
    return new TextDecoder().decode(body).split("\n").filter((e) =>
      e !== "" && e !== "." && e !== ".."
    );
  }

  /**
   * Moves `name` from the server into the file `dest`. With a dmonitor server (and `safe` not
   * false) the server deletes the file only after we confirm length and SHA-256 of what we stored
   * durably; with a reference server it deletes as soon as it has sent the bytes.
   */
  async mv(name: string, dest: string, opts: { safe?: boolean } = {}): Promise<MoveResult> {
    const { moved, failed } = await this.mvMany([{ name, dest }], opts);
    if (failed[0]) throw failed[0].error;
    return moved[0]!;
  }

  /**
   * Moves many files, `batch` at a time, and makes each batch durable at once (parallel
   * fdatasync, renames, one fsync per directory). With a dmonitor server (SMV negotiated) a batch
   * is pipelined: all SMV requests, all bodies, then all SMV DONE confirmations, so the server
   * deletes a file only once it is durable here. With a reference server it is MV, one file at a
   * time in lock-step. A file the server refuses is reported in `failed` and the others go on; a
   * broken connection throws after storing what was already received.
   *
   * `beforeConfirm` (safe move only) runs on each batch once it is durable here and before any
   * SMV DONE is sent: a caller that commits the files elsewhere there (a shared database) has them
   * committed before the server deletes its copies. When it throws, nothing is confirmed and the
   * server keeps every file of the batch.
   */
  async mvMany(
    items: { name: string; dest: string }[],
    opts: {
      safe?: boolean;
      batch?: number;
      beforeConfirm?: (
        files: { name: string; dest: string; size: number; sha256: string }[],
      ) => Promise<void>;
    } = {},
  ): Promise<{ moved: MoveResult[]; failed: { name: string; error: Error }[] }> {
    const safe = (opts.safe ?? true) && this.safeMove;
    const batch = Math.max(1, Math.min(opts.batch ?? 64, MAX_LEASES));
    const moved: MoveResult[] = [];
    const failed: { name: string; error: Error }[] = [];
    for (let start = 0; start < items.length; start += batch) {
      const slice = items.slice(start, start + batch);
      const fetched: Fetched[] = [];
      if (!safe) {
        // A reference server deletes each file as soon as it has sent it: every file is made
        // durable (fdatasync, rename into place, directory fsync) before the next MV is sent,
        // so a crash loses at most the one file in flight (and not even that once its body is
        // complete: the sized temporary name lets the next run keep it).
        for (const item of slice) {
          let one: Fetched;
          try {
            one = await this.#fetchMv(item.name, item.dest);
          } catch (e) {
            if (!(e instanceof ProtocolError) || this.#broken) throw e;
            failed.push({ name: item.name, error: e });
            continue;
          }
          await this.#settle([one]);
          fetched.push(one);
        }
      } else {
        try {
          await this.#fetchPipelined(slice, fetched, failed);
        } finally {
          // Even when the connection broke: an unconfirmed SMV copy only means the server sends
          // it again later.
          await this.#settle(fetched);
        }
      }
      if (!safe) {
        for (const f of fetched) {
          moved.push({ name: f.name, size: f.size, sha256: f.sha256, confirmed: false });
        }
        continue;
      }
      if (opts.beforeConfirm && fetched.length > 0) {
        await opts.beforeConfirm(
          fetched.map((f) => ({ name: f.name, dest: f.dest, size: f.size, sha256: f.sha256 })),
        );
      }
      const { io } = this.#need();
      const confirm = encodeLines(fetched.map((f) => smvDone(f.name, f.size, f.sha256)));
      await this.#guard(() => io.write(confirm));
      for (const f of fetched) {
        const answer = await this.#reply();
        if (answer === "SMV KEPT (checksum mismatch)") {
          await Deno.remove(f.dest).catch(() => {});
          const why = `Moving '${f.name}': the server sent other bytes than it read`;
          failed.push({ name: f.name, error: new ProtocolError(why, answer) });
          continue;
        }
        // Any other KEPT: stored here, but the server kept its copy (it changed meanwhile).
        const confirmed = answer === "SMV DELETED";
        moved.push({ name: f.name, size: f.size, sha256: f.sha256, confirmed });
      }
    }
    return { moved, failed };
  }

  /** Requests a batch with SMV all at once (dmonitor servers only), then reads each answer. */
  async #fetchPipelined(
    slice: { name: string; dest: string }[],
    fetched: Fetched[],
    failed: { name: string; error: Error }[],
  ): Promise<void> {
    const temps: TempFile[] = [];
    try {
      for (const item of slice) temps.push(await openTemp(item.dest));
    } catch (e) {
      for (const t of temps) await discard(t);
      throw e;
    }
    let next = 0;
    try {
      const { io } = this.#need();
      await this.#guard(() => io.write(encodeLines(slice.map((i) => `SMV <${i.name}>`))));
      for (; next < slice.length; next++) {
        const item = slice[next]!;
        const tmp = temps[next]!;
        const reply = await this.#reply();
        const m = reply.match(/^SMV SIZE (\d+)$/);
        if (!m) {
          await discard(tmp);
          failed.push({ name: item.name, error: this.#refused(reply) });
          continue;
        }
        const size = Number(m[1]);
        const sha256 = await this.#receive(tmp.file, size);
        fetched.push({ name: item.name, dest: item.dest, tmp, size, sha256 });
      }
    } finally {
      for (; next < slice.length; next++) await discard(temps[next]!);
    }
  }

  /** Fetches one file by MV (lock-step) into a temporary file (not yet durable). */
  async #fetchMv(name: string, dest: string): Promise<Fetched> {
    const size = await this.#announced(`MV <${name}>`, "MV");
    // Opened before the go-ahead: if that fails, the server is told nothing and keeps the file.
    const tmp = await openTemp(dest, size);
    try {
      await this.#line(Ack.MV);
      const sha256 = await this.#receive(tmp.file, size);
      return { name, dest, tmp, size, sha256 };
    } catch (e) {
      await discard(tmp);
      throw e;
    }
  }

  /** Makes received files durable and visible: fdatasync all at once, rename, fsync the dirs. */
  async #settle(items: { tmp: TempFile; dest: string }[]): Promise<void> {
    if (items.length === 0) return;
    const fsync = this.options.fsync ?? true;
    try {
      if (fsync) await Promise.all(items.map((i) => i.tmp.file.syncData()));
      for (const i of items) {
        i.tmp.file.close();
        await Deno.rename(i.tmp.path, i.dest);
      }
    } catch (e) {
      for (const i of items) await discard(i.tmp);
      throw e;
    }
    if (fsync) {
      for (const dir of new Set(items.map((i) => dirname(i.dest)))) {
        using d = await Deno.open(dir, { read: true });
        await d.sync();
      }
    }
  }

  /** Says QUIT (no reply comes) and closes. */
  async quit(): Promise<void> {
    if (!this.#io || this.#broken) return this.close();
    const io = this.#io;
    await io.write(encodeLine("QUIT")).catch(() => {});
    this.#broken = true;
    await io.end().catch(() => io.destroy());
  }

  /** Drops the connection. */
  close(): void {
    this.#broken = true;
    this.#io?.destroy();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.quit();
  }

  /** Receives `size` body bytes into `file`; returns their SHA-256. */
  async #receive(file: Deno.FsFile, size: number): Promise<string> {
    const { reader } = this.#need();
    const hash = createHash("sha256");
    await this.#guard(async () => {
      for await (const piece of reader.readBody(size)) {
        hash.update(piece);
        await writeAll(file, piece);
      }
    });
    return hash.digest("hex");
  }
}
