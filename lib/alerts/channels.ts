/**
 * Turns parsed alert settings into live channels: the I/O half of configuration (reading
 * `smtp.password_file` and `smtp.ca`, checking alert commands, resolving `plugin_user`).
 * @module
 */
import { ConfigError, type ConfigProblem } from "../errors/mod.ts";
import { createAlertmanagerChannel } from "./alertmanager.ts";
import { checkExecutable, createCommandChannel, resolveRunAs, type RunAs } from "./command.ts";
import type { AlertSettings } from "./settings.ts";
import { createSmtpChannel } from "./smtp.ts";
import type { Channels } from "./types.ts";
import { createWebhookChannel } from "./webhook.ts";
import { LIMITS, readTreeText, treeFileDetail, TreeFileError } from "../fsafe/mod.ts";

export interface BuiltChannels {
  channels: Channels;
  /** Releases the SMTP transport. */
  close(): void;
}

async function readFileProblem(
  path: string,
  key: string,
  maxBytes: number,
): Promise<{ text: string | null; problem: ConfigProblem | null }> {
  try {
    return { text: await readTreeText(path, { maxBytes }), problem: null };
  } catch (e) {
    const why = e instanceof TreeFileError
      ? treeFileDetail(e).replace(/^it does not exist$/, "does not exist")
      : (e as Error).message;
    return {
      text: null,
      problem: { file: "dmonitor.yaml", key, message: `cannot be read: ${path} ${why}` },
    };
  }
}

/** Reads and checks every file the alert settings point at; returns channels or throws. */
export async function buildChannels(s: AlertSettings): Promise<BuiltChannels> {
  const problems: ConfigProblem[] = [];
  let password = s.smtp.password;
  if (s.smtp.passwordFile) {
    const r = await readFileProblem(s.smtp.passwordFile, "smtp.password_file", LIMITS.secret);
    if (r.problem) problems.push(r.problem);
    // Only the line ending an editor adds is dropped; a password may contain spaces.
    else password = r.text!.replace(/\r?\n$/, "");
  }
  let ca: string | null = null;
  if (s.smtp.ca) {
    const r = await readFileProblem(s.smtp.ca, "smtp.ca", LIMITS.pem);
    if (r.problem) problems.push(r.problem);
    else if (!r.text!.includes("-----BEGIN CERTIFICATE-----")) {
      problems.push({
        file: "dmonitor.yaml",
        key: "smtp.ca",
        message: `must be a PEM certificate file, got ${JSON.stringify(s.smtp.ca)}`,
      });
    } else ca = r.text;
  }
  for (const c of s.commands) {
    const unsafe = await checkExecutable(c.path);
    if (unsafe) problems.push({ file: c.file, key: "", message: unsafe });
  }
  let runAs: RunAs | null = null;
  if (s.commands.length > 0) {
    try {
      runAs = await resolveRunAs(s.pluginUser);
    } catch (e) {
      problems.push({ file: "dmonitor.yaml", key: "plugin_user", message: (e as Error).message });
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  const smtp = createSmtpChannel({ smtp: s.smtp, password, ca });
  return {
    channels: {
      email: smtp,
      webhook: createWebhookChannel({ webhooks: s.webhooks }),
      command: createCommandChannel({ commands: s.commands, runAs }),
      alertmanager: createAlertmanagerChannel({ alertmanagers: s.alertmanagers }),
    },
    close: () => smtp.close(),
  };
}
