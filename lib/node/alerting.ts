/**
 * Alerting as every command sets it up (`run`, `sync`, `alert test`): the notifier that makes a
 * notification durable in the outbox, the delivery loop, and the channels built from the parsed
 * alert settings, swappable on reload. One place, so the three cannot drift apart.
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import {
  type Acknowledgement,
  type AlertSettings,
  alertTargets,
  type BuiltChannels,
  createNotifier,
  deliverDue,
  loadSilences,
  runOutbox,
  type Silence,
  type Target,
} from "../alerts/mod.ts";
import type { Logger } from "../log/mod.ts";
import { METRICS } from "../metrics/mod.ts";
import type { Notification, Notifier } from "../quorum/types.ts";
import { IncidentStore } from "./consensus.ts";
import type { IncidentOpen } from "../alerts/mod.ts";

export interface AlertingDeps {
  db: DatabaseSync;
  /** The config root, whose silence.d/ is read for every notification. */
  root: string;
  settings: AlertSettings;
  channels: BuiltChannels;
  logger: Logger;
  /** Silences and acknowledgements shared by the cluster (lib/shared), besides silence.d/. */
  shared?: {
    silences(): Silence[];
    acknowledged(incidentId: string): Acknowledgement | null;
  };
}

export interface Alerting extends Disposable {
  /** Queues durably in the outbox (one row per target), counted in the metrics. */
  notifier: Notifier;
  targets(): Target[];
  /** Delivers until `signal` aborts. */
  run(signal: AbortSignal): Promise<void>;
  /** Delivers what is due now, once (`dmonitor sync --once`). */
  deliverNow(signal?: AbortSignal): Promise<void>;
  /** Takes new settings and channels (a reload); the old channels are closed. */
  update(settings: AlertSettings, channels: BuiltChannels): void;
  close(): void;
}

/**
 * Whether an incident is open, from the persisted consensus state: what stops Alertmanager
 * re-posts when another node sent the recovery. Site incidents (sync) are not in it: unknown.
 */
export function incidentOpen(db: DatabaseSync): IncidentOpen {
  const incidents = new IncidentStore(db);
  return (id) => {
    // An id is `host/test/start/node` (lib/quorum/incident.ts; neither a host directory nor a
    // test file name holds a slash): one row to read, not every incident per re-post, which
    // was quadratic in a mass failure.
    const [host, test] = id.split("/");
    const s = host && test ? incidents.get(host, test) : null;
    if (s === null) return null;
    if (s.incident?.id === id) {
      // recovering can still fall back to down: open until the recovery is confirmed.
      if (s.phase === "down" || s.phase === "recovering") return { open: true };
      return { open: false, endedAt: s.incident.endedAt };
    }
    if (s.closed?.id === id) return { open: false, endedAt: s.closed.endedAt };
    return null;
  };
}

export function createAlerting(deps: AlertingDeps): Alerting {
  let settings = deps.settings;
  let built = deps.channels;
  const log = deps.logger.child("alerts");
  const isOpen = incidentOpen(deps.db);
  const outbox = createNotifier({
    db: deps.db,
    targets: () => alertTargets(settings),
    silences: async () => {
      const own = await loadSilences(deps.root);
      return {
        silences: [...own.silences, ...deps.shared?.silences() ?? []],
        problems: own.problems,
      };
    },
    ...(deps.shared ? { acknowledged: (id: string) => deps.shared!.acknowledged(id) } : {}),
    log: deps.logger,
  });
  return {
    notifier: {
      notify: async (n: Notification) => {
        await outbox.notify(n);
        METRICS.notifications.inc({ kind: n.kind });
      },
    },
    targets: () => alertTargets(settings),
    run: (signal) =>
      runOutbox({ db: deps.db, channels: () => built.channels, signal, log, isOpen }),
    deliverNow: async (signal) => {
      await deliverDue({ db: deps.db, channels: built.channels, log, signal, isOpen });
    },
    update(next, channels) {
      const old = built;
      settings = next;
      built = channels;
      old.close();
    },
    close: () => built.close(),
    [Symbol.dispose]: () => built.close(),
  };
}
