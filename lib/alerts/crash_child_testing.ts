/**
 * Child process for crash_test.ts (not a test itself):
 *
 * - `enqueue DB`: queues the sample notification for ops@example.com, prints `queued`, then starts
 *   delivering through a channel that never completes, prints `sending` and waits to be killed.
 * - `queue-only DB`: queues it, prints `queued` and waits to be killed before any attempt.
 * - `deliver DB PORT OFFSET_MS`: delivers everything due through the real SMTP channel to
 *   127.0.0.1:PORT with a clock OFFSET_MS ahead (past the dead process's lease), then exits.
 * - `restart DB PORT`: the node's own loop (runOutbox) through the real SMTP channel, as a node
 *   starting again; prints `pending=0` and exits once nothing is pending (or after 20 s).
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import { createLogger } from "../log/mod.ts";
import { deliverDue, runOutbox } from "./deliver.ts";
import { createNotifier } from "./notifier.ts";
import { Outbox } from "./outbox.ts";
import { parseAlertSettings } from "./settings.ts";
import { createSmtpChannel } from "./smtp.ts";
import { sampleDown } from "./testing.ts";
import { realClock } from "./types.ts";

const [mode, path, port, offset] = Deno.args;
const db = new DatabaseSync(path!);
db.exec("PRAGMA journal_mode=WAL");
const log = createLogger({ min: "warn" });
const say = (line: string) => Deno.stdout.writeSync(new TextEncoder().encode(line + "\n"));

/** The real SMTP channel to 127.0.0.1:`port`. */
function smtpTo(port: number) {
  const { settings } = parseAlertSettings({ host: "127.0.0.1", port }, {
    root: "/",
    recipients: [],
    alertFiles: {},
    settings: { node: "node1", plugin_user: "nobody" },
  });
  return createSmtpChannel({ smtp: settings.smtp, password: null, ca: null });
}

if (mode === "enqueue" || mode === "queue-only") {
  const targets = [{ channel: "email" as const, name: "ops@example.com" }];
  await createNotifier({ db, targets: () => targets, log }).notify(sampleDown());
  say("queued");
  if (mode === "queue-only") await new Promise(() => setInterval(() => {}, 60_000));
  const hang = { send: () => (say("sending"), new Promise<never>(() => {})) };
  await runOutbox({ db, channels: { email: hang }, log });
} else if (mode === "deliver") {
  const email = smtpTo(Number(port));
  const clock = { ...realClock, now: () => Date.now() + Number(offset) };
  const attempts = await deliverDue({ db, channels: { email }, clock, log });
  email.close();
  say(attempts.map((a) => `${a.row.target} ${a.outcome}`).join(",") || "nothing due");
  say(`pending=${new Outbox(db).list(["pending"]).length}`);
  db.close();
} else if (mode === "restart") {
  const email = smtpTo(Number(port));
  const stop = new AbortController();
  const loop = runOutbox({ db, channels: { email }, log, signal: stop.signal });
  const end = Date.now() + 20_000;
  const pending = () => new Outbox(db).list(["pending"]).length;
  while (pending() > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
  stop.abort();
  await loop;
  email.close();
  say(`pending=${pending()}`);
  db.close();
} else {
  throw new Error(`unknown mode ${mode}`);
}
