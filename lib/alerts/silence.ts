/**
 * Silences for maintenance, kept in the tree as files, like hosts.d and alert.d:
 *
 * - `silence.d/<host>` mutes every test of that host;
 * - `silence.d/<host>/<test>` mutes one test.
 *
 * The file's first line (blank lines and `#` comments skipped) is the end time, ISO 8601 with an
 * explicit zone (`2025-03-01T18:00Z`, `2025-03-01 18:00+01:00`), so every node in every time zone
 * reads the same instant; further lines are a free-text reason shown in state. An expired file is
 * harmless; `rm` ends a silence early. The notifier reads the directory on every notification, so
 * `echo 2025-03-01T18:00Z > silence.d/db1` takes effect without a reload.
 * @module
 */
import type { SectionParser } from "../config/types.ts";
import type { ConfigProblem } from "../errors/mod.ts";
import {
  LIMITS,
  listTreeDir,
  readTreeText,
  type TreeDirEntry,
  treeFileDetail,
  TreeFileError,
} from "../fsafe/mod.ts";
import type { DeliverableKind } from "./types.ts";

export interface Silence {
  host: string;
  /** null: the whole host. */
  test: string | null;
  /** Epoch ms the silence ends. */
  until: number;
  reason: string;
  /** `silence.d/<host>[/<test>]`. */
  file: string;
}

const PART = /^[A-Za-z0-9_:][A-Za-z0-9._:-]{0,252}$/;
const TIME = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)(Z|[+-]\d{2}:?\d{2})$/i;

/** Parses an end time with an explicit zone; null when it has none or is not a time. */
export function parseSilenceTime(s: string): number | null {
  const m = TIME.exec(s.trim());
  if (!m) return null;
  const zone = m[3]!.toUpperCase() === "Z" ? "Z" : m[3]!.replace(/^([+-]\d{2})(\d{2})$/, "$1:$2");
  const t = Date.parse(`${m[1]}T${m[2]}${zone}`);
  return Number.isNaN(t) ? null : t;
}

/**
 * Parses silence files, keyed by path relative to the config root (`silence.d/db1/ssh`). A value
 * of null marks a directory where a file was expected.
 */
export function parseSilences(
  files: Record<string, string | null>,
): { silences: Silence[]; problems: ConfigProblem[] } {
  const silences: Silence[] = [];
  const problems: ConfigProblem[] = [];
  for (const [file, contents] of Object.entries(files)) {
    const parts = file.split("/").slice(1);
    if (parts.length < 1 || parts.length > 2 || contents === null) {
      problems.push({
        file,
        key: "",
        message: "must be silence.d/<host> or silence.d/<host>/<test>, a file",
      });
      continue;
    }
    const bad = parts.find((p) => !PART.test(p));
    if (bad !== undefined) {
      problems.push({
        file,
        key: "",
        message: `is not a host or test name, got ${JSON.stringify(bad)}`,
      });
      continue;
    }
    const lines = contents.split(/\r?\n/).map((l) => l.trim()).filter((l) =>
      l && !l.startsWith("#")
    );
    const until = lines[0] === undefined ? null : parseSilenceTime(lines[0]);
    if (until === null) {
      problems.push({
        file,
        key: "",
        message: "must start with an end time with a zone, such as 2025-03-01T18:00Z, got " +
          JSON.stringify(lines[0] ?? ""),
      });
      continue;
    }
    silences.push({
      host: parts[0]!.toLowerCase(),
      test: parts[1] ?? null,
      until,
      reason: lines.slice(1).join(" "),
      file,
    });
  }
  silences.sort((a, b) => a.file.localeCompare(b.file));
  return { silences, problems };
}

/** The silence muting host+test at `now` (the one lasting longest), or undefined. */
export function matchingSilence(
  silences: readonly Silence[],
  host: string,
  test: string,
  now: number,
): Silence | undefined {
  const h = host.toLowerCase();
  return silences
    .filter((s) => s.host === h && (s.test === null || s.test === test) && now < s.until)
    .sort((a, b) => b.until - a.until)[0];
}

/** True when host+test is muted at `now`. */
export function isSilenced(
  silences: readonly Silence[],
  host: string,
  test: string,
  now: number,
): boolean {
  return matchingSilence(silences, host, test, now) !== undefined;
}

/** Silences still in force at `now`, for the state view. */
export function activeSilences(silences: readonly Silence[], now: number): Silence[] {
  return silences.filter((s) => now < s.until);
}

/** What this node's outbox knows about the outage notices (down, reminders) of an incident. */
export type DownRecord = "queued" | "muted" | "none";

/**
 * Whether a notification is muted. Down and reminder notices are muted while a silence holds. A
 * recovery follows the outage notices: muted if they were all muted (nobody heard of the outage),
 * sent if one went out (whoever was paged hears it is over, even during a silence), and, when this
 * node never saw one (another node sent it), muted only while a silence holds. Tests never are.
 */
export function shouldMute(kind: DeliverableKind, silenced: boolean, down: DownRecord): boolean {
  switch (kind) {
    case "test":
      return false;
    case "down":
    case "reminder":
      return silenced;
    case "recovered":
      return down === "muted" || (down === "none" && silenced);
  }
}

/** Deadline for reading one silence file, or listing one directory, at run time. */
const SILENCE_DEADLINE_MS = 2_000;

/**
 * Reads `silence.d/` under the config root (I/O only): files by relative path, directories where
 * a file belongs as null. Hidden files and editor backups (`~`) are skipped; a missing directory
 * means no silences. Only regular files are read (through lib/fsafe, so a FIFO or a link to a
 * device never blocks or floods the notifier); whatever cannot be read is returned as a problem
 * and mutes nothing.
 */
export async function readSilenceTree(
  root: string,
): Promise<{ files: Record<string, string | null>; problems: ConfigProblem[] }> {
  const files: Record<string, string | null> = {};
  const problems: ConfigProblem[] = [];
  const refuse = (file: string, e: unknown) => {
    if (!(e instanceof TreeFileError)) throw e;
    problems.push({ file, key: "", message: `${treeFileDetail(e)}; it mutes nothing` });
  };
  const skip = (name: string) => name.startsWith(".") || name.endsWith("~");
  const walk = async (rel: string, depth: number) => {
    let entries: TreeDirEntry[];
    try {
      entries = await listTreeDir(`${root}/${rel}`, { deadlineMs: SILENCE_DEADLINE_MS });
    } catch (e) {
      if (e instanceof TreeFileError && e.reason === "missing" && depth === 0) return;
      return refuse(rel, e);
    }
    for (const e of entries) {
      if (skip(e.name)) continue;
      const path = `${rel}/${e.name}`;
      if (e.kind === "dir") {
        if (depth === 0) await walk(path, 1);
        else files[path] = null;
        continue;
      }
      try {
        files[path] = await readTreeText(`${root}/${path}`, {
          maxBytes: LIMITS.silence,
          deadlineMs: SILENCE_DEADLINE_MS,
        });
      } catch (err) {
        refuse(path, err);
      }
    }
  };
  await walk("silence.d", 0);
  return { files, problems };
}

/** silence.d/ as read with the tree (`Config.silenceFiles`), for the node's configuration. */
export const silenceSection: SectionParser<Silence[]> = {
  key: null,
  parse(_raw, base, problems) {
    const files = Object.fromEntries(
      Object.entries(base.silenceFiles).map(([k, v]) => [`silence.d/${k}`, v]),
    );
    const r = parseSilences(files);
    problems.push(...r.problems);
    return r.silences;
  },
};

/** Reads and parses `silence.d/`; broken or unreadable files are returned as problems, never thrown. */
export async function loadSilences(
  root: string,
): Promise<{ silences: Silence[]; problems: ConfigProblem[] }> {
  const read = await readSilenceTree(root);
  const parsed = parseSilences(read.files);
  return { silences: parsed.silences, problems: [...read.problems, ...parsed.problems] };
}
