import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { ConfigError } from "../errors/mod.ts";
import {
  activeSilences,
  isSilenced,
  loadSilences,
  parseSilences,
  parseSilenceTime,
  shouldMute,
  type Silence,
} from "./silence.ts";
import { T0 } from "./testing.ts";

const HOUR = 3_600_000;
const silences: Silence[] = [
  {
    host: "db1.example.com",
    test: null,
    until: T0 + HOUR,
    reason: "",
    file: "silence.d/db1.example.com",
  },
  {
    host: "www.example.com",
    test: "ssh",
    until: T0 + HOUR,
    reason: "",
    file: "silence.d/www.example.com/ssh",
  },
];

Deno.test("isSilenced: host-wide and host+test silences, until their end", () => {
  const table: [string, string, number, boolean][] = [
    ["db1.example.com", "ping", T0, true],
    ["DB1.example.com", "mysql", T0 + HOUR - 1, true],
    ["db1.example.com", "ping", T0 + HOUR, false],
    ["www.example.com", "ssh", T0, true],
    ["www.example.com", "http", T0, false],
    ["db2.example.com", "ping", T0, false],
  ];
  for (const [host, test, now, want] of table) {
    assertEquals(isSilenced(silences, host, test, now), want, `${host} ${test} @${now - T0}`);
  }
  assertEquals(activeSilences(silences, T0 + HOUR).length, 0);
  assertEquals(activeSilences(silences, T0).length, 2);
});

Deno.test("shouldMute: downs mute while silenced, recoveries follow their down notice", () => {
  const table: [Parameters<typeof shouldMute>, boolean][] = [
    [["down", true, "none"], true],
    [["down", false, "none"], false],
    [["reminder", true, "queued"], true],
    [["recovered", true, "queued"], false],
    [["recovered", false, "muted"], true],
    [["recovered", true, "none"], true],
    [["recovered", false, "none"], false],
    [["test", true, "none"], false],
  ];
  for (const [args, want] of table) assertEquals(shouldMute(...args), want, args.join(" "));
});

Deno.test("parseSilenceTime needs an explicit zone", () => {
  const table: [string, number | null][] = [
    ["2025-03-01T13:00Z", T0 + HOUR],
    ["2025-03-01 14:00:00+01:00", T0 + HOUR],
    ["2025-03-01T14:00+0100", T0 + HOUR],
    ["2025-03-01T13:00:00.000z", T0 + HOUR],
    ["2025-03-01T13:00", null],
    ["tomorrow", null],
    ["2025-13-01T13:00Z", null],
  ];
  for (const [s, want] of table) assertEquals(parseSilenceTime(s), want, s);
});

Deno.test("parseSilences: files, reasons and precise problems", () => {
  const { silences, problems } = parseSilences({
    "silence.d/DB1.example.com": "# kernel upgrade\n2025-03-01T13:00Z\nkernel upgrade, ask Ann\n",
    "silence.d/www.example.com/ssh": "2025-03-01T13:00Z",
    "silence.d/www.example.com/http": "next tuesday",
    "silence.d/a/b/c": "2025-03-01T13:00Z",
    "silence.d/x": null,
    "silence.d/-rf": "2025-03-01T13:00Z",
  });
  assertEquals(silences, [
    {
      host: "db1.example.com",
      test: null,
      until: T0 + HOUR,
      reason: "kernel upgrade, ask Ann",
      file: "silence.d/DB1.example.com",
    },
    {
      host: "www.example.com",
      test: "ssh",
      until: T0 + HOUR,
      reason: "",
      file: "silence.d/www.example.com/ssh",
    },
  ]);
  assertEquals(new ConfigError(problems).message.split("\n"), [
    'silence.d/www.example.com/http: must start with an end time with a zone, such as 2025-03-01T18:00Z, got "next tuesday"',
    "silence.d/a/b/c: must be silence.d/<host> or silence.d/<host>/<test>, a file",
    "silence.d/x: must be silence.d/<host> or silence.d/<host>/<test>, a file",
    'silence.d/-rf: is not a host or test name, got "-rf"',
  ]);
});

Deno.test("loadSilences reads silence.d from a real tree", async () => {
  const root = await Deno.makeTempDir();
  try {
    assertEquals(await loadSilences(root), { silences: [], problems: [] }, "no silence.d at all");
    await Deno.mkdir(`${root}/silence.d/www.example.com/deeper`, { recursive: true });
    await Deno.writeTextFile(`${root}/silence.d/db1`, "2025-03-01T13:00Z\n");
    await Deno.writeTextFile(`${root}/silence.d/www.example.com/ssh`, "2025-03-01T13:00Z\n");
    await Deno.writeTextFile(`${root}/silence.d/www.example.com/.ssh.swp`, "junk");
    await Deno.writeTextFile(`${root}/silence.d/db1~`, "junk");
    const { silences, problems } = await loadSilences(root);
    assertEquals(silences.map((s) => s.file), ["silence.d/db1", "silence.d/www.example.com/ssh"]);
    assertEquals(problems.map((p) => p.file), ["silence.d/www.example.com/deeper"]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("loadSilences refuses a FIFO, a link to /dev/zero and an oversized file, and reads the rest", async () => {
  const root = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${root}/silence.d/www`, { recursive: true });
    await Deno.writeTextFile(`${root}/silence.d/db1`, "2025-03-01T13:00Z\n");
    const fifo = await new Deno.Command("mkfifo", { args: [`${root}/silence.d/www/ssh`] }).output();
    assertEquals(fifo.code, 0);
    await Deno.symlink("/dev/zero", `${root}/silence.d/zero`);
    await Deno.writeTextFile(`${root}/silence.d/huge`, "#".repeat(70_000));
    const { silences, problems } = await loadSilences(root);
    assertEquals(silences.map((s) => s.file), ["silence.d/db1"]);
    assertEquals(new ConfigError(problems).message.split("\n"), [
      "silence.d/huge: it is 70000 bytes, at most 65536 are read; it mutes nothing",
      "silence.d/www/ssh: it is a FIFO; only regular files are read; it mutes nothing",
      "silence.d/zero: it links to /dev/zero, a character device; only regular files are read; it mutes nothing",
    ]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
