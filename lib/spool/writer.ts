/**
 * The site-side spool writer: buffers check results, writes them (and every incident notification,
 * at once) as Pandora agent data files into the spool directory, atomically (hidden temporary file,
 * fdatasync, rename, directory fsync: a reader never sees a partial file), and keeps the directory
 * within its size and age bounds, counting what it drops.
 * @module
 */
import { join } from "node:path";
import type { Logger } from "../log/mod.ts";
import type { Notification } from "../quorum/types.ts";
import type { CheckResult } from "../runner/result.ts";
import type { Clock } from "../schedule/mod.ts";
import { TEMP_PREFIX } from "../tentacle/storage.ts";
import { DATA_FILE, dataFileName, md5hex, renderAgentData } from "./agent_xml.ts";
import { pruneSpool, sweepTemps } from "./bound.ts";
import type { SpoolSettings } from "./settings.ts";

export interface SpoolStats {
  /** Data files waiting in the spool directory (after the last prune). */
  files: number;
  bytes: number;
  /** Files written since start. */
  written: number;
  /** Files dropped to keep the bounds, since start, and their bytes. */
  dropped: number;
  droppedBytes: number;
  lastWrite: number | null;
  lastError: string | null;
}

export interface SpoolWriterOptions {
  settings: SpoolSettings;
  version: string;
  clock: Clock;
  log: Logger;
  /** fdatasync files and fsync the directory (default true; benchmarks may turn it off). */
  fsync?: boolean;
}

/**
 * Splits buffered results into batches holding at most one result per host+test, in order, so a
 * FAIL followed by an OK within one write interval reaches the central history as two values.
 */
export function splitBatches(results: CheckResult[]): CheckResult[][] {
  const batches: CheckResult[][] = [];
  const seen = new Map<string, number>();
  for (const r of results) {
    const key = `${r.host}\t${r.test}`;
    const i = seen.get(key) ?? 0;
    seen.set(key, i + 1);
    (batches[i] ??= []).push(r);
  }
  return batches;
}

/** Next file second: now, but always after the previous one, so names never collide. */
export function nextSecond(nowMs: number, last: number): number {
  return Math.max(Math.floor(nowMs / 1000), last + 1);
}

export class SpoolWriter {
  readonly #o: SpoolWriterOptions;
  #results: CheckResult[] = [];
  #notes: Notification[] = [];
  #lastSec = 0;
  #chain: Promise<unknown> = Promise.resolve();
  readonly #stats: SpoolStats = {
    files: 0,
    bytes: 0,
    written: 0,
    dropped: 0,
    droppedBytes: 0,
    lastWrite: null,
    lastError: null,
  };

  constructor(options: SpoolWriterOptions) {
    this.#o = options;
  }

  get directory(): string {
    return this.#o.settings.directory;
  }

  /** Creates the directory, removes stale temporaries, and continues the file-name sequence. */
  async init(): Promise<void> {
    const dir = this.directory;
    await Deno.mkdir(dir, { recursive: true, mode: 0o750 });
    await sweepTemps(dir, this.#o.clock.now(), 10 * 60_000);
    const prefix = md5hex(this.#o.settings.agentName);
    for await (const e of Deno.readDir(dir)) {
      const m = DATA_FILE.exec(e.name);
      if (m && m[1] === prefix) this.#lastSec = Math.max(this.#lastSec, Number(m[2]));
    }
    const mark = await Deno.readTextFile(this.#markPath()).catch(() => "");
    if (/^\d+$/.test(mark.trim())) this.#lastSec = Math.max(this.#lastSec, Number(mark.trim()));
  }

  /** Hidden file remembering the last second used (files may have been sent away since). */
  #markPath(): string {
    return join(this.directory, `.dmonitor-spool.${md5hex(this.#o.settings.agentName)}.last`);
  }

  /** Buffers a check result until the next write. */
  addResult(r: CheckResult): void {
    this.#results.push(r);
  }

  /** Writes a notification (with whatever results are buffered) now; resolves once it is durable. */
  notify(n: Notification): Promise<void> {
    this.#notes.push(n);
    return this.flush();
  }

  stats(): SpoolStats {
    return { ...this.#stats };
  }

  /** Writes everything buffered, then applies the bounds. Calls are serialized. */
  flush(): Promise<void> {
    const run = this.#chain.then(() => this.#flushNow());
    this.#chain = run.catch(() => {});
    return run;
  }

  async #flushNow(): Promise<void> {
    const results = this.#results;
    const notes = this.#notes;
    if (results.length === 0 && notes.length === 0) return;
    this.#results = [];
    this.#notes = [];
    const batches = splitBatches(results);
    if (batches.length === 0) batches.push([]);
    try {
      for (let i = 0; i < batches.length; i++) {
        await this.#write(batches[i]!, i === 0 ? notes : []);
      }
      this.#stats.lastError = null;
    } catch (e) {
      // Keep what was not written for the next attempt; notifications must not be lost.
      this.#results = [...results, ...this.#results];
      this.#notes = [...notes, ...this.#notes];
      this.#stats.lastError = (e as Error).message;
      this.#o.log.error("cannot write spool file", {
        dir: this.directory,
        error: (e as Error).message,
      });
      throw e;
    }
    await this.prune();
  }

  async #write(results: CheckResult[], notifications: Notification[]): Promise<void> {
    const { settings, clock, version } = this.#o;
    const now = clock.now();
    const sec = nextSecond(now, this.#lastSec);
    const text = renderAgentData({
      agentName: settings.agentName,
      time: now,
      intervalSec: settings.writeIntervalMs / 1000,
      version,
      site: settings.site,
      group: settings.group,
      results,
      notifications,
      dropped: this.#stats.dropped,
    });
    const name = dataFileName(settings.agentName, sec);
    await writeAtomic(this.directory, name, new TextEncoder().encode(text), this.#o.fsync ?? true);
    this.#lastSec = sec;
    await Deno.writeTextFile(this.#markPath(), String(sec)).catch(() => {});
    this.#stats.written++;
    this.#stats.lastWrite = now;
  }

  /** Drops files beyond the size and age bounds; logs and counts what went. */
  async prune(): Promise<void> {
    const { settings, clock, log } = this.#o;
    const plan = await pruneSpool(
      this.directory,
      clock.now(),
      settings.maxBytes,
      settings.maxAgeMs,
    );
    this.#stats.files = plan.files;
    this.#stats.bytes = plan.bytes;
    if (plan.drop.length > 0) {
      this.#stats.dropped += plan.drop.length;
      this.#stats.droppedBytes += plan.droppedBytes;
      log.warn("spool full or too old: dropped the oldest files", {
        dir: this.directory,
        files: plan.drop.length,
        bytes: plan.droppedBytes,
        totalDropped: this.#stats.dropped,
      });
    }
  }

  /** Writes on every interval until `signal` aborts, then writes what is left. */
  async run(signal: AbortSignal): Promise<void> {
    const { clock, settings, log } = this.#o;
    while (!signal.aborted) {
      await clock.sleep(settings.writeIntervalMs, signal);
      await this.flush().catch((e) =>
        log.debug("spool write will be retried", { error: (e as Error).message })
      );
    }
    await this.flush().catch(() => {});
  }
}

/** Writes `bytes` as `dir/name`: hidden temporary file, fdatasync, rename, directory fsync. */
export async function writeAtomic(
  dir: string,
  name: string,
  bytes: Uint8Array,
  fsync = true,
): Promise<void> {
  const tmp = join(dir, `${TEMP_PREFIX}${crypto.randomUUID()}`);
  try {
    {
      using f = await Deno.open(tmp, { write: true, createNew: true, mode: 0o640 });
      let off = 0;
      while (off < bytes.length) off += await f.write(bytes.subarray(off));
      if (fsync) await f.syncData();
    }
    await Deno.rename(tmp, join(dir, name));
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
  if (fsync) {
    using d = await Deno.open(dir, { read: true });
    await d.sync();
  }
}
