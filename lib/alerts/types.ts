/**
 * Shapes shared inside lib/alerts: what a channel delivers, how it reports failure, and the clock
 * the delivery loop waits on.
 * @module
 */
import type { Notification } from "../quorum/types.ts";

/** What a message can be about: a consensus notification, or `dmonitor alert test`. */
export type DeliverableKind = Notification["kind"] | "test";

/** A {@link Notification}, or a test message with the same shape (`kind: "test"`). */
export type Deliverable = Omit<Notification, "kind"> & { kind: DeliverableKind };

/** The ways a message leaves the node. */
export type ChannelKind = "email" | "webhook" | "command" | "alertmanager";

/** One destination: an email address, or the `<name>` of `alert.d/<name>.webhook|.command|.alertmanager`. */
export interface Target {
  channel: ChannelKind;
  /** Email address, or the webhook/command name. */
  name: string;
}

/** The outbox key of a target: `email:alice@example.com`, `webhook:ops`, `command:pager`. */
export function targetKey(t: Target): string {
  return `${t.channel}:${t.name}`;
}

/** One message handed to a channel. */
export interface Message {
  notification: Deliverable;
  /** Who gets it (the channel resolves webhook and command names against the current config). */
  target: Target;
  /** Epoch ms the message was queued; the mail's `Date` header, so retries do not change it. */
  createdAt: number;
}

/** A channel's answer when the other side accepted the message. */
export interface SendReceipt {
  /** One line for humans: the SMTP reply, the HTTP status, the command's output. */
  detail: string;
}

/** Sends one message to one target; throws {@link DeliveryError} (or anything, read as temporary). */
export interface Channel {
  send(msg: Message, signal: AbortSignal): Promise<SendReceipt>;
}

/** The configured channels by kind; a missing kind means none of its targets can be delivered. */
export type Channels = Partial<Record<ChannelKind, Channel>>;

export { DeliveryError } from "../errors/mod.ts";

/** Time as the delivery loop sees it: the code base's one clock (lib/clock). */
export type { Clock } from "../clock/mod.ts";
import { systemClock } from "../clock/mod.ts";

/** The wall clock and real timers. */
export const realClock = systemClock;
