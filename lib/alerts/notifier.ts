/**
 * The notifier the consensus part hands notifications to: applies silences, then writes one
 * outbox row per target and wakes the delivery loop. When `notify` resolves, the notification is
 * durable; calling it again with the same notification id is harmless.
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import { createLogger, type Logger } from "../log/mod.ts";
import type { Notification, Notifier as QuorumNotifier } from "../quorum/types.ts";
import { wakeOutbox } from "./deliver.ts";
import { Outbox } from "./outbox.ts";
import { formatTime } from "./render.ts";
import { matchingSilence, shouldMute, type Silence } from "./silence.ts";
import { type Clock, realClock, type Target } from "./types.ts";

export interface NotifyResult {
  /** Outbox rows added (0 when this notification was queued before). */
  queued: number;
  /** True when a silence (or its muted down notice) kept it from being sent. */
  muted: boolean;
  /** The silence in force that muted it, or null. */
  mutedBy: Silence | null;
}

/** lib/quorum's `Notifier`; `enqueue` does the same and says what it did. */
export interface Notifier extends QuorumNotifier {
  /** Resolves once the notification is durable in the outbox (or muted); rejects if not. */
  notify(n: Notification): Promise<void>;
  enqueue(n: Notification): Promise<NotifyResult>;
}

export interface NotifierOptions {
  db: DatabaseSync;
  /** Current targets (from {@link alertTargets}); a getter so a reload takes effect. */
  targets: () => readonly Target[];
  /** Current silences, e.g. `async () => (await loadSilences(root)).silences`. Default: none. */
  silences?: () => readonly Silence[] | Promise<readonly Silence[]>;
  clock?: Clock;
  log?: Logger;
}

/**
 * Creates the notifier.
 * @example
 * const notifier = createNotifier({
 *   db,
 *   targets: () => alertTargets(settings),
 *   silences: async () => (await loadSilences(config.root)).silences,
 * });
 * await notifier.notify(notification);
 */
export function createNotifier(opts: NotifierOptions): Notifier {
  const outbox = new Outbox(opts.db);
  const clock = opts.clock ?? realClock;
  const log = (opts.log ?? createLogger()).child("alerts");
  const enqueue = async (n: Notification): Promise<NotifyResult> => {
    let silences: readonly Silence[] = [];
    try {
      silences = await (opts.silences?.() ?? []);
    } catch (e) {
      // A broken silence.d must not swallow a page: notify as if nothing were silenced.
      log.warn("cannot read silences, notifying anyway", { error: (e as Error).message });
    }
    const now = clock.now();
    const silence = matchingSilence(silences, n.host, n.test, now) ?? null;
    const down = n.kind === "recovered" ? outbox.downRecord(n.incidentId) : "none";
    const muted = shouldMute(n.kind, silence !== null, down);
    const targets = opts.targets();
    const fields = { kind: n.kind, host: n.host, test: n.test, notification: n.id };
    if (targets.length === 0) {
      const queued = outbox.recordUndeliverable(n, now, "no alert target configured in alert.d/");
      log.error("no alert target configured in alert.d/, notification not sent", fields);
      return { queued, muted: false, mutedBy: null };
    }
    const note = muted
      ? silence
        ? `muted by ${silence.file} until ${formatTime(silence.until)}`
        : "muted: its down notice was muted"
      : undefined;
    const queued = outbox.enqueue(n, targets, now, { status: muted ? "muted" : "pending", note });
    if (muted) log.info("notification muted", { ...fields, by: silence?.file ?? "down notice" });
    else if (queued > 0) log.info("notification queued", { ...fields, targets: queued });
    if (queued > 0 && !muted) wakeOutbox(opts.db);
    return { queued, muted, mutedBy: muted ? silence : null };
  };
  return { enqueue, notify: async (n) => void await enqueue(n) };
}
