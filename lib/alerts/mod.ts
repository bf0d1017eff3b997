/**
 * Alert delivery: turns consensus notifications into mails, webhook POSTs, command runs and
 * Alertmanager alerts, through
 * a durable SQLite outbox that never loses a message and delivers each (notification, target) once.
 *
 * Wiring in the node (see README.md beside this file):
 *
 * ```ts
 * const { settings, problems } = parseAlertSettings(config);      // pure; merge into ConfigError
 * const built = await buildChannels(settings);                     // reads password_file, ca
 * const notifier = createNotifier({
 *   db,
 *   targets: () => alertTargets(settings),
 *   silences: () => loadSilences(config.root),
 * });
 * const stop = new AbortController();
 * const loop = runOutbox({ db, channels: () => built.channels, signal: stop.signal, log });
 * await notifier.notify(notification);                             // durable when it resolves
 * ```
 * @module
 */

export {
  alertLabels,
  type AlertmanagerAlert,
  type AlertmanagerChannel,
  type AlertmanagerChannelOptions,
  createAlertmanagerChannel,
  FIRING_FOR_MS,
  renderAlertmanagerAlert,
  REPOST_MS,
} from "./alertmanager.ts";
export { backoff, BACKOFF_BASE_MS, BACKOFF_MAX_MS, MAX_ATTEMPTS } from "./backoff.ts";
export { buildChannels, type BuiltChannels } from "./channels.ts";
export {
  type ChannelTestResult,
  formatOutbox,
  formatTestResults,
  listOutbox,
  retryOutbox,
  sendTestAlert,
  testNotification,
} from "./cli.ts";
export {
  checkExecutable,
  type CommandChannelOptions,
  createCommandChannel,
  resolveRunAs,
} from "./command.ts";
export { type Attempt, deliverDue, type DeliverOptions, runOutbox, wakeOutbox } from "./deliver.ts";
export {
  type Acknowledgement,
  createNotifier,
  type Notifier,
  type NotifierOptions,
  type NotifyResult,
} from "./notifier.ts";
export { type FiringRow, FiringStore, type IncidentOpen } from "./firing.ts";
export { Outbox, type OutboxRow, type OutboxStatus } from "./outbox.ts";
export { type PayloadVote, renderWebhookPayload, type WebhookPayload } from "./payload.ts";
export {
  type AlertMail,
  formatDuration,
  formatTime,
  type MailOptions,
  messageId,
  renderAlertMail,
  renderSubject,
  renderText,
} from "./render.ts";
export {
  type AlertConfigInput,
  type AlertmanagerTarget,
  type AlertSettings,
  alertTargets,
  type CommandTarget,
  parseAlertmanagerFile,
  parseAlertSettings,
  type SmtpSettings,
  type StartTls,
  type WebhookTarget,
} from "./settings.ts";
export {
  activeSilences,
  isSilenced,
  loadSilences,
  matchingSilence,
  parseSilences,
  parseSilenceTime,
  readSilenceTree,
  shouldMute,
  type Silence,
} from "./silence.ts";
export { createSmtpChannel, type SmtpChannelOptions } from "./smtp.ts";
export {
  type Channel,
  type ChannelKind,
  type Channels,
  type Clock,
  type Deliverable,
  type DeliverableKind,
  DeliveryError,
  type Message,
  realClock,
  type SendReceipt,
  type Target,
  targetKey,
} from "./types.ts";
export { createWebhookChannel, type WebhookChannelOptions } from "./webhook.ts";
