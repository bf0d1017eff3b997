/**
 * Keeping the spool bounded: a pure plan of which data files to drop (too old, then oldest first
 * until the total fits), and the I/O that applies it to a directory.
 * @module
 */
import { join } from "node:path";
import { DATA_FILE } from "./agent_xml.ts";
import { TEMP_PREFIX } from "../tentacle/storage.ts";

export interface SpoolFile {
  name: string;
  size: number;
  /** Epoch ms the file was written (from its name, else its mtime). */
  time: number;
}

export interface DropPlan {
  /** Names to delete, oldest first. */
  drop: string[];
  droppedBytes: number;
  /** What stays. */
  files: number;
  bytes: number;
}

/**
 * Which files to drop so that none is older than `maxAgeMs` and the total is at most `maxBytes`.
 * Oldest go first (by time, then name, so equal times still drop in a stable order).
 * @example planDrops([{ name: "a", size: 10, time: 0 }], 1000, 5, 60_000).drop // ["a"]
 */
export function planDrops(
  files: SpoolFile[],
  now: number,
  maxBytes: number,
  maxAgeMs: number,
): DropPlan {
  const sorted = [...files].sort((a, b) =>
    a.time - b.time || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
  );
  let bytes = sorted.reduce((n, f) => n + f.size, 0);
  const drop: string[] = [];
  let droppedBytes = 0;
  let i = 0;
  for (; i < sorted.length; i++) {
    const f = sorted[i]!;
    if (now - f.time <= maxAgeMs && bytes <= maxBytes) break;
    drop.push(f.name);
    droppedBytes += f.size;
    bytes -= f.size;
  }
  return { drop, droppedBytes, files: sorted.length - i, bytes };
}

/** The time a data file was written: the unix seconds in its name, or its mtime. */
export function fileTime(name: string, mtime: Date | null): number {
  const m = DATA_FILE.exec(name);
  if (m) return Number(m[2]) * 1000;
  return mtime?.getTime() ?? 0;
}

/** Lists the data files of a spool directory (not temporary files, not subdirectories). */
export async function listSpool(dir: string): Promise<SpoolFile[]> {
  const out: SpoolFile[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (!e.isFile || e.name.startsWith(".") || !e.name.endsWith(".data")) continue;
    const st = await Deno.stat(join(dir, e.name)).catch(() => null);
    if (st) out.push({ name: e.name, size: st.size, time: fileTime(e.name, st.mtime) });
  }
  return out;
}

/** Removes our temporary files older than `ageMs` (left by a crash mid-write). */
export async function sweepTemps(dir: string, now: number, ageMs: number): Promise<number> {
  let n = 0;
  for await (const e of Deno.readDir(dir)) {
    if (!e.isFile || !e.name.startsWith(TEMP_PREFIX)) continue;
    const st = await Deno.stat(join(dir, e.name)).catch(() => null);
    if (st && now - (st.mtime?.getTime() ?? 0) > ageMs) {
      await Deno.remove(join(dir, e.name)).then(() => n++, () => {});
    }
  }
  return n;
}

/** Applies {@link planDrops} to `dir`; returns the plan (files already gone count as dropped). */
export async function pruneSpool(
  dir: string,
  now: number,
  maxBytes: number,
  maxAgeMs: number,
): Promise<DropPlan> {
  const plan = planDrops(await listSpool(dir), now, maxBytes, maxAgeMs);
  for (const name of plan.drop) await Deno.remove(join(dir, name)).catch(() => {});
  return plan;
}
