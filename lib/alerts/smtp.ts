/**
 * The email channel: one plain-text message per recipient through nodemailer, so one rejected
 * address never holds up the others and each copy has its own stable Message-ID.
 * @module
 */
import { renderAlertMail } from "./render.ts";
import { mailboxAddress, type SmtpSettings } from "./settings.ts";
import { type Channel, DeliveryError, type Message } from "./types.ts";

/** The part of a nodemailer transport this channel uses. */
export interface MailTransport {
  sendMail(mail: Record<string, unknown>): Promise<{ accepted?: unknown[]; response?: string }>;
  close(): void;
}

export interface SmtpChannelOptions {
  smtp: SmtpSettings;
  /** The password (from `password` or the contents of `password_file`), or null. */
  password: string | null;
  /** PEM contents of the `ca` file, or null for the system roots. */
  ca: string | null;
}

/** nodemailer's transport options for our settings (exported for tests and `alert test`). */
export function transportOptions(o: SmtpChannelOptions): Record<string, unknown> {
  const { smtp } = o;
  // Opportunistic STARTTLS is what MTAs do between themselves: encrypt when offered, without
  // verifying the certificate (a local MTA usually has a self-signed one). Implicit TLS and
  // required STARTTLS verify, against `ca` when set.
  const verify = smtp.secure || smtp.starttls === "required";
  return {
    host: smtp.host,
    port: smtp.port,
    secure: smtp.secure,
    requireTLS: !smtp.secure && smtp.starttls === "required",
    ignoreTLS: !smtp.secure && smtp.starttls === "off",
    auth: smtp.user === null ? undefined : { user: smtp.user, pass: o.password ?? "" },
    tls: { rejectUnauthorized: verify, ...(o.ca ? { ca: o.ca } : {}) },
    connectionTimeout: smtp.timeout,
    greetingTimeout: smtp.timeout,
    socketTimeout: smtp.timeout,
    dnsTimeout: smtp.timeout,
    logger: false,
  };
}

interface SmtpError {
  code?: string;
  responseCode?: number;
  response?: string;
  command?: string;
  message?: string;
}

/**
 * Turns a nodemailer failure into a {@link DeliveryError}. Permanent only when the server refused
 * this message or this recipient with a 5xx (RCPT TO, DATA); connection, TLS, AUTH and MAIL FROM
 * problems are the node's configuration or the server's state, so they are retried.
 */
export function classifySmtpError(e: unknown, server: string): DeliveryError {
  const err = (e ?? {}) as SmtpError;
  const code = err.responseCode;
  const permanent = code !== undefined && code >= 500 && code < 600 &&
    (err.command === "RCPT TO" || err.command === "DATA");
  let message: string;
  if (err.response && code !== undefined) {
    message = `SMTP server ${server} refused ${err.command ?? "the message"}: ${err.response}`;
  } else if (err.command === "CONN" || err.code === "ECONNECTION" || err.code === "ESOCKET") {
    message = `Cannot reach SMTP server ${server}: ${err.message ?? err.code}`;
  } else {
    message = `SMTP to ${server} failed (${err.code ?? "error"}): ${err.message ?? String(e)}`;
  }
  return new DeliveryError(message.replace(/\s+/g, " ").trim(), permanent, { cause: e });
}

/** Creates the email channel; `transport` replaces nodemailer (tests of classification only). */
/**
 * nodemailer is loaded on the first mail, not at start-up: it is the largest dependency, and a node
 * that never sends mail should not carry it (see bench/memory_run.ts).
 */
async function lazyTransport(o: SmtpChannelOptions): Promise<MailTransport> {
  let nodemailer;
  try {
    ({ default: nodemailer } = await import("nodemailer"));
  } catch (e) {
    // From source as root, nodemailer is loaded before the drop only for a tree that had email
    // recipients at start (lib/cli/preload.ts); DENO_DIR is root's and unreadable now.
    throw new DeliveryError(
      `cannot load the mailer (nodemailer): ${(e as Error).message}; a node run from source ` +
        "as root loads it before dropping root only when the tree has email recipients at " +
        "start: restart the node",
      false,
      { cause: e },
    );
  }
  return nodemailer.createTransport(transportOptions(o)) as MailTransport;
}

export function createSmtpChannel(
  o: SmtpChannelOptions,
  given?: MailTransport,
): Channel & { close(): void } {
  let pending: Promise<MailTransport> | null = given ? Promise.resolve(given) : null;
  let opened: MailTransport | null = given ?? null;
  const transport = {
    sendMail: async (m: Parameters<MailTransport["sendMail"]>[0]) => {
      opened = await (pending ??= lazyTransport(o));
      return opened.sendMail(m);
    },
    close: () => opened?.close(),
  };
  const from = o.smtp.from;
  const domain = (mailboxAddress(from) ?? "dmonitor@localhost").split("@").pop()!;
  const server = `${o.smtp.host}:${o.smtp.port}`;
  return {
    async send(msg: Message) {
      const to = msg.target.name;
      const mail = renderAlertMail(msg.notification, {
        recipient: to,
        domain,
        date: msg.createdAt,
      });
      const { "Message-ID": id, "Date": _date, ...headers } = mail.headers;
      let info;
      try {
        info = await transport.sendMail({
          from,
          to,
          subject: mail.subject,
          text: mail.text,
          messageId: id,
          date: new Date(msg.createdAt),
          headers,
        });
      } catch (e) {
        throw e instanceof DeliveryError ? e : classifySmtpError(e, server);
      }
      if (!info.accepted?.length) {
        throw new DeliveryError(`SMTP server ${server} did not accept ${to}`, false);
      }
      return { detail: (info.response ?? "accepted").replace(/\s+/g, " ") };
    },
    close: () => transport.close(),
  };
}
