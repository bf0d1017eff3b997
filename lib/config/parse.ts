/**
 * `parseConfig(files)`: the pure half of loading. Validates everything, collects every problem,
 * and returns typed, defaulted configuration or throws one {@link ConfigError} listing them all.
 * @module
 */
import { ConfigError, type ConfigProblem } from "../errors/mod.ts";
import type { ConfigFiles, TreeEntry } from "./tree.ts";
import { MAX_FILE_BYTES } from "./tree.ts";
import type {
  BaseConfig,
  Config,
  Recipient,
  SectionParsers,
  SectionsOf,
  TestConfig,
} from "./types.ts";
import { parseSettings, SETTINGS_FILE } from "./settings.ts";
import { NODES_FILE, parseNodes } from "./nodes.ts";
import { type BuiltinSpecs, parseTestFile } from "./hosts.ts";
import { decodeYaml } from "./yaml.ts";
import { parseEmail, parseHostName, parseTestName } from "./values.ts";

export const PEER_KEY_FILE = "peer.key";
/** A shared key shorter than this is guessable. */
export const MIN_KEY_LENGTH = 32;

export interface ParseOptions<P extends SectionParsers = Record<never, never>> {
  /** Built-in checks by name with their parameter specs. */
  builtins: BuiltinSpecs;
  /** This machine's host name (default `node`). */
  hostname: string;
  /** The parsers of the sections other parts own (smtp, peer, status, spool, ...), by name. */
  sections?: P;
  /**
   * Checks across parts (a peer key when there are peers, plugin trust). They run on the parsed
   * configuration even when it has problems, so one pass reports everything.
   */
  validators?: ((config: Config<SectionsOf<P>>) => ConfigProblem[])[];
}

/** Parses and validates a tree read by `readConfigTree`. Throws ConfigError with every problem. */
export function parseConfig<P extends SectionParsers = Record<never, never>>(
  files: ConfigFiles,
  opts: ParseOptions<P>,
): Config<SectionsOf<P>> {
  const problems: ConfigProblem[] = [];
  const byPath = new Map(files.entries.map((e) => [e.path, e]));
  const text = (e: TreeEntry | undefined, file: string): string | null => {
    if (!e) return null;
    if (e.kind !== "file") {
      problems.push({
        file,
        key: "",
        message: `must be a regular file, found ${
          e.kind === "dir" ? "a directory" : e.what ?? "a special file"
        }`,
      });
      return null;
    }
    if (e.content === null) {
      problems.push({
        file,
        key: "",
        message: `is too large (${e.size} bytes, at most ${MAX_FILE_BYTES})`,
      });
      return null;
    }
    return e.content;
  };

  const yamlText = text(byPath.get(SETTINGS_FILE), SETTINGS_FILE);
  const doc = yamlText === null ? null : decodeYaml(yamlText, SETTINGS_FILE, problems);
  const parsers = opts.sections ?? ({} as P);
  const sectionKeys = Object.values(parsers).flatMap((p) => p.key === null ? [] : [p.key]);
  const { settings, raw } = parseSettings(doc, opts.hostname, problems, sectionKeys);

  const nodesText = text(byPath.get(NODES_FILE), NODES_FILE);
  const peers = nodesText === null ? [] : parseNodes(nodesText, settings, problems);
  checkQuorum(settings, peers.length, doc, problems);

  const peerKey = parsePeerKey(byPath.get(PEER_KEY_FILE), text, problems);
  const tests = parseHosts(files, byPath, settings, opts.builtins, text, problems);
  const { recipients, alertFiles } = parseAlerts(files.entries, text, problems);
  const silenceFiles: Record<string, string> = {};
  for (const e of files.entries) {
    if (!e.path.startsWith("silence.d/") || e.kind === "dir") continue;
    const c = text(e, e.path);
    if (c !== null) silenceFiles[e.path.slice("silence.d/".length)] = c;
  }
  const base: BaseConfig = {
    root: files.root,
    settings,
    peers,
    tests,
    recipients,
    alertFiles,
    silenceFiles,
    peerKey,
  };
  const sections = Object.fromEntries(
    Object.entries(parsers).map((
      [name, p],
    ) => [name, p.parse(p.key === null ? undefined : raw[p.key], base, problems)]),
  ) as SectionsOf<P>;
  const config: Config<SectionsOf<P>> = { ...base, sections };
  for (const validate of opts.validators ?? []) problems.push(...validate(config));
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

function checkQuorum(
  settings: BaseConfig["settings"],
  peerCount: number,
  doc: unknown,
  problems: ConfigProblem[],
) {
  const explicit = typeof doc === "object" && doc !== null && "quorum" in doc &&
    !problems.some((p) => p.file === SETTINGS_FILE && p.key === "quorum");
  const total = peerCount + 1;
  if (peerCount === 0) {
    // Single-node mode: with nobody to confirm, this node decides alone. An explicit quorum above
    // one cannot be met and would silently never alert, so it is an error.
    const q = settings.quorum;
    if (explicit && q.kind === "count" && q.count > 1) {
      problems.push({
        file: SETTINGS_FILE,
        key: "quorum",
        message:
          `is ${q.count} but ${NODES_FILE} lists no peer, so at most 1 node can see an outage; ` +
          `add peers to ${NODES_FILE} or set quorum: 1`,
      });
    }
    settings.singleNode = true;
    settings.quorum = { kind: "count", count: 1 };
    return;
  }
  const q = settings.quorum;
  if (q.kind === "count" && q.count > total) {
    problems.push({
      file: SETTINGS_FILE,
      key: "quorum",
      message:
        `is ${q.count} but only ${total} nodes are configured (this one and ${peerCount} in ${NODES_FILE}), ` +
        `so no outage could ever be confirmed`,
    });
  }
}

function parsePeerKey(
  e: TreeEntry | undefined,
  text: (e: TreeEntry | undefined, file: string) => string | null,
  problems: ConfigProblem[],
): string | null {
  const raw = text(e, PEER_KEY_FILE);
  if (raw === null) return null;
  const key = raw.trim();
  if (key.length < MIN_KEY_LENGTH || /\s/.test(key)) {
    problems.push({
      file: PEER_KEY_FILE,
      key: "",
      message: `must hold one key of at least ${MIN_KEY_LENGTH} characters without spaces ` +
        `(create one with 'dmonitor init'), got ${key.length} characters`,
    });
    return key; // reported; returned so later checks do not also call it missing
  }
  if (e?.mode !== null && e?.mode !== undefined && (e.mode & 0o077) !== 0) {
    problems.push({
      file: PEER_KEY_FILE,
      key: "",
      message: `must not be readable by group or others (chmod 600 ${PEER_KEY_FILE}), ` +
        `mode is ${(e.mode & 0o777).toString(8).padStart(4, "0")}`,
    });
    return key;
  }
  return key;
}

function parseHosts(
  files: ConfigFiles,
  byPath: Map<string, TreeEntry>,
  settings: BaseConfig["settings"],
  builtins: BuiltinSpecs,
  text: (e: TreeEntry | undefined, file: string) => string | null,
  problems: ConfigProblem[],
): TestConfig[] {
  const tests: TestConfig[] = [];
  for (const e of files.entries) {
    const parts = e.path.split("/");
    if (parts[0] !== "hosts.d") continue;
    if (parts.length === 1) {
      if (e.kind !== "dir") {
        problems.push({ file: e.path, key: "", message: "must be a directory" });
      }
      continue;
    }
    const host = parts[1]!;
    if (parts.length === 2) {
      const h = parseHostName(host);
      if (!h.ok) problems.push({ file: e.path, key: "", message: `host name ${h.message}` });
      else if (e.kind !== "dir") {
        problems.push({
          file: e.path,
          key: "",
          message: "must be a directory holding one file per test",
        });
      }
      continue;
    }
    if (!parseHostName(host).ok) continue; // reported once for the directory
    const test = parts[2]!;
    const tn = parseTestName(test);
    if (!tn.ok) {
      problems.push({ file: e.path, key: "", message: `test name ${tn.message}` });
      continue;
    }
    const content = text(e, e.path);
    if (content === null) continue;
    const plugin = byPath.get(`plugins/check_${test}`);
    const t = parseTestFile(
      {
        host,
        test,
        file: e.path,
        content,
        treePlugin: plugin && plugin.kind === "file" ? `${files.root}/plugins/check_${test}` : null,
      },
      settings,
      builtins,
      problems,
    );
    if (t) tests.push(t);
  }
  return tests;
}

function parseAlerts(
  entries: TreeEntry[],
  text: (e: TreeEntry | undefined, file: string) => string | null,
  problems: ConfigProblem[],
): { recipients: Recipient[]; alertFiles: Record<string, string> } {
  const recipients: Recipient[] = [];
  const alertFiles: Record<string, string> = {};
  for (const e of entries) {
    if (!e.path.startsWith("alert.d/")) continue;
    const name = e.path.slice("alert.d/".length);
    const content = text(e, e.path);
    if (content === null) continue;
    if (/\.(webhook|command|alertmanager|command\.route)$/.test(name)) {
      alertFiles[name] = content;
      continue;
    }
    const r = parseEmail(name);
    if (!r.ok) {
      problems.push({
        file: e.path,
        key: "",
        message:
          `file name ${r.message}; alert.d/ holds <address> files, <name>.webhook, <name>.command and <name>.alertmanager`,
      });
      continue;
    }
    // Its contents (a route, or nothing) are parsed by the alerts part.
    recipients.push({ kind: "email", address: r.value, file: e.path, content });
  }
  return { recipients, alertFiles };
}
