/**
 * A `Notifier` for tests: records what it was given, and can be told to fail.
 * @module
 */
import type { Notification, Notifier } from "./types.ts";

/** Records every notification it accepts; rejects the next `failNext` calls. */
export class RecordingNotifier implements Notifier {
  readonly sent: Notification[] = [];
  failNext = 0;

  notify(n: Notification): Promise<void> {
    if (this.failNext > 0) {
      this.failNext--;
      return Promise.reject(new Error(`Cannot deliver ${n.id}: recording notifier told to fail`));
    }
    this.sent.push(structuredClone(n));
    return Promise.resolve();
  }

  /** `kind host/test` of every notification, in order: handy for exact assertions. */
  summary(): string[] {
    return this.sent.map((n) => `${n.kind} ${n.host}/${n.test} by ${n.notifier}`);
  }
}
