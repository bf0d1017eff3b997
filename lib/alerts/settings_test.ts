import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { ConfigError } from "../errors/mod.ts";
import {
  type AlertConfigInput,
  alertTargets,
  parseAlertSettings,
  parseDuration,
} from "./settings.ts";
import { loadYamlLibrary } from "../config/yaml.ts";

// Routes in memory are real YAML; a tree read from disk loads the library itself.
await loadYamlLibrary();

function input(
  smtp: unknown,
  alertFiles: Record<string, string> = {},
): [unknown, AlertConfigInput] {
  return [smtp, {
    root: "/etc/dmonitor",
    recipients: [{ kind: "email", address: "ops@example.com", file: "alert.d/ops@example.com" }],
    alertFiles,
    settings: { node: "node1.example.com", plugin_user: "nobody" },
  }];
}

Deno.test("parseAlertSettings: defaults work with a local MTA on port 25", () => {
  const { settings, problems } = parseAlertSettings(...input(undefined));
  assertEquals(problems, []);
  assertEquals(settings.smtp, {
    host: "localhost",
    port: 25,
    secure: false,
    starttls: "opportunistic",
    user: null,
    password: null,
    passwordFile: null,
    from: "dmonitor@node1.example.com",
    ca: null,
    timeout: 30_000,
  });
  assertEquals(settings.emails, ["ops@example.com"]);
});

Deno.test("parseAlertSettings: a full smtp section", () => {
  const { settings, problems } = parseAlertSettings(...input({
    host: "mail.example.com",
    secure: true,
    user: "dmonitor",
    password_file: "smtp.pass",
    from: "dmonitor <alerts@example.com>",
    ca: "/etc/ssl/private-ca.pem",
    timeout: "5s",
  }));
  assertEquals(problems, []);
  assertEquals(settings.smtp.port, 465, "implicit TLS defaults to port 465");
  assertEquals(settings.smtp.starttls, "required", "credentials default to verified TLS");
  assertEquals(settings.smtp.passwordFile, "/etc/dmonitor/smtp.pass");
  assertEquals(settings.smtp.ca, "/etc/ssl/private-ca.pem");
  assertEquals(settings.smtp.timeout, 5_000);
});

Deno.test("parseAlertSettings: every smtp problem names dmonitor.yaml, the key and the value", () => {
  const table: [unknown, string[]][] = [
    ["mail", ["dmonitor.yaml: 'smtp' must be a mapping, got \"mail\""]],
    [{ port: 99999 }, ["dmonitor.yaml: 'smtp.port' must be 1-65535, got 99999"]],
    [{ port: "25" }, ["dmonitor.yaml: 'smtp.port' must be 1-65535, got \"25\""]],
    [{ secure: "yes" }, ["dmonitor.yaml: 'smtp.secure' must be true or false, got \"yes\""]],
    [{ starttls: "maybe" }, [
      "dmonitor.yaml: 'smtp.starttls' must be required, opportunistic or off, got \"maybe\"",
    ]],
    [{ user: "u" }, [
      "dmonitor.yaml: 'smtp.user' needs 'smtp.password' or 'smtp.password_file', got \"u\"",
    ]],
    [{ password: "p" }, ["dmonitor.yaml: 'smtp.password' needs 'smtp.user'"]],
    [{ user: "u", password: "p", password_file: "f" }, [
      "dmonitor.yaml: 'smtp.password_file' cannot be used together with 'smtp.password'",
    ]],
    [{ from: "not an address" }, [
      "dmonitor.yaml: 'smtp.from' must be an address like dmonitor@example.com or \"Name <addr>\", " +
      'got "not an address"',
    ]],
    [{ timeout: "soon" }, [
      "dmonitor.yaml: 'smtp.timeout' must be a duration such as 30s, got \"soon\"",
    ]],
    [{ host: "-oProxy" }, [
      "dmonitor.yaml: 'smtp.host' must be a host name or IP, got \"-oProxy\"",
    ]],
    [{ hots: "x", ca: 3 }, [
      "dmonitor.yaml: 'smtp.hots' is not a known key (known: host, port, secure, starttls, user, " +
      "password, password_file, from, ca, timeout)",
      "dmonitor.yaml: 'smtp.ca' must be a non-empty string, got 3",
    ]],
  ];
  for (const [smtp, want] of table) {
    const { problems } = parseAlertSettings(...input(smtp));
    assertEquals(new ConfigError(problems).message.split("\n"), want, JSON.stringify(smtp));
  }
});

Deno.test("parseAlertSettings: webhook, command and alertmanager files in alert.d", () => {
  const { settings, problems } = parseAlertSettings(...input(undefined, {
    "ops.webhook": "# Mattermost\nhttps://chat.example.com/hooks/abc\n",
    "pager.command": "#!/bin/sh\ncat >/dev/null\n",
    "am.alertmanager": "# HA pair\nhttp://10.0.0.5:9093\nhttp://10.0.0.6:9093/\n",
    "empty.alertmanager": "\n",
    "alert.d/bad.webhook": "ftp://example.com/x",
    "two.webhook": "http://a.example/\nhttp://b.example/",
    "notes.txt": "",
    "-x.command": "",
  }));
  assertEquals(settings.webhooks, [
    { name: "ops", file: "alert.d/ops.webhook", url: "https://chat.example.com/hooks/abc" },
  ]);
  assertEquals(settings.commands, [
    { name: "pager", file: "alert.d/pager.command", path: "/etc/dmonitor/alert.d/pager.command" },
  ]);
  assertEquals(settings.alertmanagers, [
    {
      name: "am",
      file: "alert.d/am.alertmanager",
      urls: ["http://10.0.0.5:9093/", "http://10.0.0.6:9093/"],
    },
  ]);
  assertEquals(new ConfigError(problems).message.split("\n"), [
    "alert.d/empty.alertmanager: must contain at least one Alertmanager URL, got none",
    'alert.d/bad.webhook: must contain an http or https URL, got "ftp://example.com/x"',
    "alert.d/two.webhook: must contain exactly one URL line, got 2",
    "alert.d/notes.txt: is neither an email address nor a <name>.webhook, <name>.command or <name>.alertmanager file",
    "alert.d/-x.command: name must be letters, digits, '.', '_' or '-', got \"-x\"",
  ]);
  assertEquals(alertTargets(settings), [
    { channel: "email", name: "ops@example.com" },
    { channel: "webhook", name: "ops" },
    { channel: "command", name: "pager" },
    { channel: "alertmanager", name: "am" },
  ]);
});

Deno.test("parseDuration", () => {
  const table: [unknown, number | null][] = [
    [30, 30_000],
    ["500ms", 500],
    ["30s", 30_000],
    ["2m", 120_000],
    ["1h", 3_600_000],
    ["1.5s", 1_500],
    [0, null],
    ["0s", null],
    ["10", null],
    [true, null],
  ];
  for (const [v, want] of table) assertEquals(parseDuration(v), want, JSON.stringify(v));
});

Deno.test("parseAlertSettings: routes in address files, after a webhook's URL, in .command.route", () => {
  const [smtp, cfg] = input(undefined, {
    "ops.webhook": "# chat\nhttps://chat.example.com/hooks/abc\ntests: [http*]\nmin_duration: 2m\n",
    "plain.webhook": "https://chat.example.com/hooks/plain\n",
    "pager.command": "",
    "pager.command.route": "hosts: ['db?']\nkinds: [down, recovered]\n",
    "ghost.command.route": "tests: [x]\n",
    "bad.webhook": "https://chat.example.com/hooks/bad\nkinds: [up]\n",
  });
  cfg.recipients = [
    { kind: "email", address: "ops@example.com", file: "alert.d/ops@example.com", content: "" },
    {
      kind: "email",
      address: "db@example.com",
      file: "alert.d/db@example.com",
      content: "sites: [local]\n",
    },
    { kind: "email", address: "x@example.com", file: "alert.d/x@example.com", content: "hello\n" },
  ];
  const { settings, problems } = parseAlertSettings(smtp, cfg);
  assertEquals(problems.map((p) => `${p.file}|${p.key}|${p.message}`), [
    'alert.d/x@example.com||must be a mapping (hosts, tests, sites, kinds, min_duration), got "hello"',
    'alert.d/bad.webhook|kinds[0]|must be one of down, recovered, reminder, got "up"',
    "alert.d/ghost.command.route||routes alert.d/ghost.command, which does not exist",
  ]);
  const all = { hosts: null, tests: null, sites: null, kinds: null, minDuration: 0 };
  assertEquals(alertTargets(settings).filter((t) => t.name !== "bad"), [
    { channel: "email", name: "ops@example.com" },
    { channel: "email", name: "db@example.com", route: { ...all, sites: ["local"] } },
    { channel: "email", name: "x@example.com", route: all },
    {
      channel: "webhook",
      name: "ops",
      route: { ...all, tests: ["http*"], minDuration: 120_000 },
    },
    { channel: "webhook", name: "plain" },
    {
      channel: "command",
      name: "pager",
      route: { ...all, hosts: ["db?"], kinds: ["down", "recovered"] },
    },
  ]);
});
