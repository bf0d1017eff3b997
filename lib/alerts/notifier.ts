/**
 * The notifier the consensus part hands notifications to: writes one outbox row per target
 * first, then applies silences and wakes the delivery loop. When `notify` resolves, the
 * notification is durable; calling it again with the same notification id is harmless.
 *
 * Silences are optional: the rows are persisted (held back from delivery for a moment) before
 * silence.d is consulted, the consultation has a deadline, and a silence that cannot be read
 * mutes nothing. A page is never lost to a broken silence.d; at worst it is sent during a
 * maintenance window. Each reading problem is logged once, not once per notification.
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import { createLogger, type Logger } from "../log/mod.ts";
import type { Notification, Notifier as QuorumNotifier } from "../quorum/types.ts";
import { wakeOutbox } from "./deliver.ts";
import { Outbox } from "./outbox.ts";
import { transaction } from "../store/mod.ts";
import { formatTime } from "./render.ts";
import { type RoutedTarget, routeTargets } from "./route.ts";
import { matchingSilence, shouldMute, type Silence } from "./silence.ts";
import { type ConfigProblem, formatProblem } from "../errors/mod.ts";
import { type Clock, realClock, type Target, targetKey } from "./types.ts";

export interface NotifyResult {
  /** Outbox rows added (0 when this notification was queued before). */
  queued: number;
  /** True when a silence (or its muted down notice) kept it from being sent. */
  muted: boolean;
  /** The silence in force that muted it, or null. */
  mutedBy: Silence | null;
}

/** What a silence source returns: the silences, or them with the problems met reading them. */
export type SilenceRead =
  | readonly Silence[]
  | { silences: readonly Silence[]; problems: readonly ConfigProblem[] };

/** Who acknowledged an incident, where, when and why. */
export interface Acknowledgement {
  by: string;
  origin: string;
  at: number;
  reason: string;
}

/** How long new rows are held back while silences are consulted; a crash sends them after. */
export const HOLD_MS = 60_000;

/** Most notifications handled together (one transaction to hold their rows, one to release). */
const NOTIFY_GROUP = 100;

/** A notification whose rows are held, waiting for the silences. */
interface Held {
  n: Notification;
  fields: Record<string, string>;
  down: ReturnType<Outbox["downRecord"]>;
  ids: number[];
  releaseAt: Map<number, number>;
}

/** lib/quorum's `Notifier`; `enqueue` does the same and says what it did. */
export interface Notifier extends QuorumNotifier {
  /** Resolves once the notification is durable in the outbox (or muted); rejects if not. */
  notify(n: Notification): Promise<void>;
  enqueue(n: Notification): Promise<NotifyResult>;
}

export interface NotifierOptions {
  db: DatabaseSync;
  /** Current targets (from {@link alertTargets}), with their routes; a getter so a reload takes
   * effect. */
  targets: () => readonly RoutedTarget[];
  /**
   * Current silences, e.g. `() => loadSilences(root)`; problems it returns are logged once each.
   * Default: none.
   */
  silences?: () => SilenceRead | Promise<SilenceRead>;
  /** The acknowledgement of an incident (`dmonitor ack`, shared by every node): its reminders are
   * muted; down and recovery notices are not. Default: none. */
  acknowledged?: (incidentId: string) => Acknowledgement | null;
  /** How long silences may take before the notification goes out unmuted (default 5 s). */
  silenceDeadlineMs?: number;
  clock?: Clock;
  log?: Logger;
}

/**
 * Creates the notifier.
 * @example
 * const notifier = createNotifier({
 *   db,
 *   targets: () => alertTargets(settings),
 *   silences: () => loadSilences(config.root),
 * });
 * await notifier.notify(notification);
 */
export function createNotifier(opts: NotifierOptions): Notifier {
  const outbox = new Outbox(opts.db);
  const clock = opts.clock ?? realClock;
  const log = (opts.log ?? createLogger()).child("alerts");
  const readSilences = silenceReader(opts, log);
  /** The durable step: rows held in the outbox (or the final answer when there is nothing to
   * hold). Runs inside the group's transaction. */
  /** Log lines of the group's transaction, written once it has committed: a line says what
   * happened, and a node killed before the commit has not done it. */
  let afterCommit: (() => void)[] = [];
  const hold = (n: Notification): Held | NotifyResult => {
    const now = clock.now();
    const targets = opts.targets();
    const fields = { kind: n.kind, host: n.host, test: n.test, notification: n.id };
    if (targets.length === 0) {
      const queued = outbox.recordUndeliverable(n, now, "no alert target configured in alert.d/");
      afterCommit.push(() =>
        log.error("no alert target configured in alert.d/, notification not sent", fields)
      );
      return { queued, muted: false, mutedBy: null };
    }
    const down = n.kind === "recovered" ? outbox.downRecord(n.incidentId) : "none";
    const { send, skipped } = routeTargets(targets, n, now);
    const due: { target: Target; at: number }[] = [];
    for (const s of send) {
      if (n.kind !== "recovered" || s.minDuration === 0) {
        due.push(s);
        continue;
      }
      // A min_duration entry hears of the recovery only if it heard of the outage.
      const row = outbox.noticeOf(n.incidentId, "down", targetKey(s.target));
      if (row !== null && row.status === "pending" && row.attempts === 0 && row.nextAt > now) {
        outbox.mute([row.id], "not routed: recovered before min_duration");
        skipped.push({ target: s.target, note: "not routed: recovered before min_duration" });
      } else if (row === null || row.status === "muted") {
        skipped.push({ target: s.target, note: "not routed: its down notice was not sent" });
      } else due.push(s);
    }
    // Durable before anything optional is consulted; routed-away entries are recorded (muted)
    // so the status view shows them as not routed rather than missing.
    for (const s of skipped) outbox.enqueue(n, [s.target], now, { status: "muted", note: s.note });
    const ids: number[] = [];
    const releaseAt = new Map<number, number>();
    for (const at of new Set(due.map((d) => d.at))) {
      const group = due.filter((d) => d.at === at).map((d) => d.target);
      for (const id of outbox.enqueueHeld(n, group, now, Math.max(at, now + HOLD_MS))) {
        ids.push(id);
        releaseAt.set(id, at);
      }
    }
    if (ids.length === 0) return { queued: 0, muted: false, mutedBy: null };
    return { n, fields, down, ids, releaseAt };
  };
  /** With the silences read: mutes or releases the held rows (inside the group's transaction). */
  const decide = (h: Held, silences: readonly Silence[]): NotifyResult => {
    const { n, fields, down, ids, releaseAt } = h;
    const at = clock.now();
    const silence = matchingSilence(silences, n.host, n.test, at) ?? null;
    const ack = n.kind === "reminder" ? opts.acknowledged?.(n.incidentId) ?? null : null;
    const muted = ack !== null || shouldMute(n.kind, silence !== null, down);
    if (muted) {
      outbox.mute(
        ids,
        ack !== null
          ? `muted: acknowledged by ${ack.by} on ${ack.origin} at ${formatTime(ack.at)}` +
            (ack.reason ? `: ${ack.reason}` : "")
          : silence
          ? `muted by ${silence.file} until ${formatTime(silence.until)}`
          : "muted: its down notice was muted",
      );
      const by = ack !== null ? `acknowledgement by ${ack.by}` : silence?.file ?? "down notice";
      afterCommit.push(() => log.info("notification muted", { ...fields, by }));
    } else {
      for (const t of new Set(releaseAt.values())) {
        outbox.release(ids.filter((id) => releaseAt.get(id) === t), Math.max(t, at));
      }
      afterCommit.push(() => log.info("notification queued", { ...fields, targets: ids.length }));
    }
    return { queued: ids.length, muted, mutedBy: muted && ack === null ? silence : null };
  };
  // Notifications of one turn of the event loop go through together: one transaction holds their
  // rows, one read of the silences serves them, one transaction releases them (a mass failure
  // hands thousands over within moments; one commit each held the event loop for long).
  type Waiting = {
    n: Notification;
    resolve(r: NotifyResult): void;
    reject(e: unknown): void;
  };
  const waiting: Waiting[] = [];
  let scheduled = false;
  const eachSafely = <T>(group: Waiting[], fn: (w: Waiting, i: number) => T) => {
    afterCommit = [];
    try {
      const out = transaction(
        opts.db,
        () =>
          group.map((w, i): { ok: true; v: T } | { ok: false; e: unknown } => {
            try {
              return { ok: true, v: fn(w, i) };
            } catch (e) {
              return { ok: false, e };
            }
          }),
      );
      for (const say of afterCommit) say();
      return out;
    } finally {
      afterCommit = [];
    }
  };
  const flush = async () => {
    scheduled = false;
    const group = waiting.splice(0, NOTIFY_GROUP);
    if (waiting.length > 0) schedule();
    let held;
    try {
      held = eachSafely(group, (w) => hold(w.n));
    } catch (e) {
      for (const w of group) w.reject(e);
      return;
    }
    const open: { w: Waiting; h: Held }[] = [];
    held.forEach((r, i) => {
      const w = group[i]!;
      if (!r.ok) w.reject(r.e);
      else if ("ids" in r.v) open.push({ w, h: r.v });
      else w.resolve(r.v);
    });
    if (open.length === 0) return;
    const silences = await readSilences();
    let decided;
    try {
      decided = eachSafely(open.map((o) => o.w), (_w, i) => decide(open[i]!.h, silences));
    } catch (e) {
      for (const o of open) o.w.reject(e);
      return;
    }
    decided.forEach((r, i) => (r.ok ? open[i]!.w.resolve(r.v) : open[i]!.w.reject(r.e)));
    if (decided.some((r) => r.ok && !r.v.muted && r.v.queued > 0)) wakeOutbox(opts.db);
  };
  const schedule = () => {
    if (scheduled) return;
    scheduled = true;
    setTimeout(() => void flush(), 0);
  };
  const enqueue = (n: Notification): Promise<NotifyResult> =>
    new Promise((resolve, reject) => {
      waiting.push({ n, resolve, reject });
      schedule();
    });
  return { enqueue, notify: async (n) => void await enqueue(n) };
}

/**
 * Reads the silences within the deadline; never throws. A failure, or each problem of a file,
 * is logged when it first appears and again only after it went away and came back.
 */
function silenceReader(opts: NotifierOptions, log: Logger): () => Promise<readonly Silence[]> {
  const read = silenceReadOnce(opts, log);
  // Notifications that arrive while a read is under way share the next one (it starts after they
  // arrived, so a silence written before a notification still applies to it): a mass failure's
  // thousands of notices cost a few reads of silence.d/, not one each.
  let running: Promise<readonly Silence[]> | null = null;
  let next: Promise<readonly Silence[]> | null = null;
  const start = (): Promise<readonly Silence[]> => {
    const p = read().finally(() => {
      if (running === p) running = null;
    });
    running = p;
    return p;
  };
  return () => {
    if (running === null) return start();
    return next ??= running.then(() => {
      next = null;
      return start();
    });
  };
}

function silenceReadOnce(opts: NotifierOptions, log: Logger): () => Promise<readonly Silence[]> {
  const deadline = opts.silenceDeadlineMs ?? 5_000;
  let failing: string | null = null;
  let reported = new Set<string>();
  return async () => {
    if (!opts.silences) return [];
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const read = await Promise.race([
        Promise.resolve().then(() => opts.silences!()),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`silence.d/ not read within ${deadline} ms`)),
            deadline,
          );
        }),
      ]);
      failing = null;
      const { silences, problems } = Array.isArray(read)
        ? { silences: read as readonly Silence[], problems: [] }
        : read as { silences: readonly Silence[]; problems: readonly ConfigProblem[] };
      const now = new Set(problems.map(formatProblem));
      for (const p of now) {
        if (!reported.has(p)) log.warn("silence ignored, it mutes nothing", { problem: p });
      }
      reported = now;
      return silences;
    } catch (e) {
      // A broken silence.d must not swallow a page: notify as if nothing were silenced.
      const why = (e as Error).message;
      if (why !== failing) log.warn("cannot read silences, notifying anyway", { error: why });
      failing = why;
      return [];
    } finally {
      clearTimeout(timer);
    }
  };
}
