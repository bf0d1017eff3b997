/**
 * The command line: dispatches `dmonitor <command>` to its implementation. Commands return their
 * exit code and throw {@link UsageError} for bad flags; `main.ts` prints and exits.
 * @module
 */
import { UsageError } from "../errors/mod.ts";
import { type Io, stdio } from "./args.ts";
import { VERSION } from "./version.ts";

export { type Io, stdio } from "./args.ts";

export const USAGE = `dmonitor ${VERSION}: a distributed service monitor with consensus alerting

Usage: dmonitor <command> [flags]

Commands:
  run                 run the node (checks, peer endpoint, alerts)
  check HOST [TEST]   run checks now and print their results
  config check        validate the configuration tree
  config diff PEER    compare this tree with the configuration a peer runs
  status              show the running node's checks, incidents and peers
  silence add|list|remove
                      silences shared by every node of the cluster
  ack HOST/TEST       acknowledge an open incident on every node (reminders stop)
  init [DIR]          create a configuration tree with examples and a fresh peer.key
  outbox [retry]      list pending and failed alert messages, or queue failed ones again
  alert test          send a test notification through every alert channel
  sync [--once]       pull remote sites' spools (isolated networks) into this node
  store copy --to X   move the central store between SQLite and PostgreSQL (store:)
  tentacle-server     a Tentacle server, drop-in for Pandora's tentacle_server
  tentacle-client     a Tentacle client, drop-in for Pandora's tentacle_client
  version             print the version

Every command takes --help. The configuration tree is /etc/dmonitor unless --config DIR is given.`;

type Command = (args: string[], io: Io) => Promise<number>;

// Each command loads its own modules when it is the one run, so that `dmonitor run` carries no
// code of the others (init's templates, the status client, ...) in its memory. The specifiers are
// literal strings, so `deno bundle` and `deno compile` include every one.
const COMMANDS: Record<string, Command> = {
  run: async (a, io) => (await import("./run.ts")).runCommand(a, io),
  check: async (a, io) => (await import("./check.ts")).checkCommand(a, io),
  config: async (a, io) => (await import("./config_check.ts")).configCommand(a, io),
  status: async (a, io) => (await import("./status.ts")).statusCommand(a, io),
  silence: async (a, io) => (await import("./silence.ts")).silenceCommand(a, io),
  ack: async (a, io) => (await import("./silence.ts")).ackCommand(a, io),
  init: async (a, io) => (await import("./init.ts")).initCommand(a, io),
  outbox: async (a, io) => (await import("./alerts.ts")).outboxCommand(a, io),
  alert: async (a, io) => (await import("./alerts.ts")).alertCommand(a, io),
  sync: async (a, io) => (await import("./sync.ts")).syncCommand(a, io),
  store: async (a, io) => (await import("./store.ts")).storeCommand(a, io),
  version: (_a, io) => (io.out(`dmonitor ${VERSION}`), Promise.resolve(0)),
  "tentacle-server": async (a) => (await import("../tentacle/mod.ts")).tentacleServerMain(a),
  "tentacle-client": async (a) => (await import("../tentacle/mod.ts")).tentacleClientMain(a),
};

/** Runs the command line `args`; returns the exit code. */
export async function main(args: string[], io: Io = stdio): Promise<number> {
  const [name, ...rest] = args;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    (name === undefined ? io.err : io.out)(USAGE);
    return name === undefined ? 64 : 0;
  }
  if (name === "--version") return COMMANDS.version!(rest, io);
  const command = COMMANDS[name];
  if (!command) {
    throw new UsageError(
      `dmonitor: unknown command ${JSON.stringify(name)} (see 'dmonitor --help')`,
    );
  }
  return await command(rest, io);
}
