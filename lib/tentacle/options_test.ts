import assert from "node:assert/strict";
import { UsageError } from "../errors/mod.ts";
import { getopts } from "./getopt.ts";
import {
  CLIENT_SPEC,
  parseConfigFile,
  resolveClientSettings,
  resolveServerSettings,
  SERVER_SPEC,
  serverSettingsFromConfig,
} from "./options.ts";

const server = (args: string[], conf?: Record<string, string>) =>
  resolveServerSettings(getopts(SERVER_SPEC, args).opts, conf);
const client = (args: string[]) => {
  const r = getopts(CLIENT_SPEC, args);
  return resolveClientSettings(r.opts, r.rest);
};

Deno.test("getopts: Getopt::Std rules", () => {
  const r = getopts("a:bc:d", ["-bd", "-aVALUE", "-c", "next", "file1", "-b", "file2"]);
  assert.deepEqual(Object.fromEntries(r.opts), { b: true, d: true, a: "VALUE", c: "next" });
  assert.deepEqual(r.rest, ["file1", "-b", "file2"]);
  assert.deepEqual(r.errors, []);
  // Value glued after bundled flags; -- ends options; "-" alone is an argument.
  const r2 = getopts("a:bc:d", ["-bdaX", "--", "-b"]);
  assert.deepEqual(Object.fromEntries(r2.opts), { b: true, d: true, a: "X" });
  assert.deepEqual(r2.rest, ["-b"]);
  assert.deepEqual(getopts("a:", ["-", "x"]).rest, ["-", "x"]);
  // Last repeat wins; unknown flags and a missing value are errors.
  assert.equal(getopts("a:", ["-a1", "-a", "2"]).opts.get("a"), "2");
  assert.deepEqual(getopts("a:b", ["-xb"]).errors, ["unknown option -x"]);
  assert.equal(getopts("a:b", ["-xb"]).opts.get("b"), true);
  assert.deepEqual(getopts("a:", ["-a"]).errors, ["option -a requires a value"]);
});

Deno.test("server flags: Pandora's TENTACLE_EXT_OPTS line works unchanged", () => {
  const args = [
    "-s",
    "/spool",
    ..."-i.*\\.conf:conf;.*\\.md5:md5;.*\\.zip:collections -I -o".split(" "),
  ];
  const s = server(args);
  assert.equal(s.server.directory, "/spool");
  assert.equal(s.server.insecure, true);
  assert.equal(s.server.overwrite, true);
  const filters = s.server.filters as { regex: RegExp; dir: string }[];
  assert.deepEqual(filters.map((f) => f.dir), ["conf", "md5", "collections"]);
  assert.equal(s.server.port, 41121);
  assert.equal(s.server.idleTimeoutMs, 4000);
  assert.equal(s.verbosity, "normal");
  assert.equal(s.daemon, false);
});

Deno.test("server flags: TLS, limits, timeouts, password, verbosity", () => {
  const s = server([
    "-s/spool",
    "-e",
    "c.pem",
    "-k",
    "k.pem",
    "-f",
    "ca.pem",
    "-a",
    "127.0.0.1, ::1",
    "-p",
    "4000",
    "-c",
    "3",
    "-m",
    "100",
    "-t",
    "2",
    "-r",
    "1",
    "-x",
    "pw",
    "-v",
    "-d",
    "-l",
    "/tmp/log",
  ]);
  assert.deepEqual(s.server.tls, { certFile: "c.pem", keyFile: "k.pem", caFile: "ca.pem" });
  assert.deepEqual(s.server.addresses, ["127.0.0.1", "::1"]);
  assert.equal(s.server.port, 4000);
  assert.equal(s.server.maxConnections, 3);
  assert.equal(s.server.maxSize, 100);
  assert.equal(s.server.idleTimeoutMs, 4000);
  assert.equal(s.server.password, "pw");
  assert.equal(s.verbosity, "verbose");
  assert.equal(s.daemon, true);
  assert.equal(s.logFile, "/tmp/log");
  assert.equal(server(["-s/x", "-V"]).verbosity, "debug");
  assert.equal(server(["-s/x", "-v", "-q"]).verbosity, "quiet");
});

Deno.test("server flags: bad values give one clear line", () => {
  const bad: [string[], RegExp][] = [
    [[], /storage directory is required/],
    [["-s/x", "-p", "0"], /Port 0 is not valid/],
    [["-s/x", "-p", "70000"], /Port 70000 is not valid/],
    [["-s/x", "-c", "0"], /maximum simultaneous connections/],
    [["-s/x", "-m", "1k"], /Invalid maximum file size/],
    [["-s/x", "-t", "0"], /Invalid timeout/],
    [["-s/x", "-r", "x"], /Invalid number of retries/],
    [["-s/x", "-a", "300.1.1.1"], /Address 300.1.1.1 is not valid/],
    [["-s/x", "-a", "bad host!"], /is not valid/],
    [["-s/x", "-e", "c.pem"], /both a certificate \(-e\) and a private key \(-k\)/],
    [["-s/x", "-f", "ca.pem"], /both a certificate/],
    [["-s/x", "-i", "(:x"], /invalid regular expression/],
    [["-s/x", "-b", "1.2.3.4"], /proxy mode\) is not supported/],
    [["-s/x", "-w"], /key password prompt/],
    [["-s/x", "-T"], /tcpwrappers/],
  ];
  for (const [args, want] of bad) {
    assert.throws(
      () => server(args),
      (e: Error) => e instanceof UsageError && want.test(e.message),
      args.join(" "),
    );
  }
});

Deno.test("config file (-F): the reference's format; flags win; booleans only with 1", () => {
  const text = [
    "# comment",
    "addresses 0.0.0.0",
    "port 41121",
    "daemon 1",
    "# insecure 1",
    "insecure 0",
    "overwrite 1",
    "filters .*\\.conf:conf;.*\\.md5:md5",
    "directory /var/spool/pandora/data_in  ",
    "verbose 2",
    "  port 1",
    "max_size",
    "log_file /dev/null",
    "block_size 4096",
  ].join("\n");
  const conf = parseConfigFile(text);
  assert.equal(conf.port, "41121");
  assert.equal(conf.directory, "/var/spool/pandora/data_in");
  assert.equal(conf.max_size, undefined);
  const s = resolveServerSettings(new Map(), conf);
  assert.equal(s.daemon, true);
  assert.equal(s.server.insecure, false);
  assert.equal(s.server.overwrite, true);
  assert.equal(s.verbosity, "debug");
  assert.equal(s.logFile, "/dev/null");
  assert.equal(s.warnings.length, 1);
  const s2 = resolveServerSettings(getopts(SERVER_SPEC, ["-p", "5000", "-s/other"]).opts, conf);
  assert.equal(s2.server.port, 5000);
  assert.equal(s2.server.directory, "/other");
  assert.throws(
    () => resolveServerSettings(new Map(), { directory: "/x", proxy_ip: "1.2.3.4" }),
    UsageError,
  );
});

Deno.test("serverSettingsFromConfig: a tentacle: yaml section with typed values", () => {
  const s = serverSettingsFromConfig({
    directory: "/in",
    port: 41121,
    insecure: true,
    overwrite: false,
    max_size: 5,
  });
  assert.equal(s.server.insecure, true);
  assert.equal(s.server.overwrite, false);
  assert.equal(s.server.maxSize, 5);
  assert.equal(s.server.fsync, undefined);
  assert.equal(serverSettingsFromConfig({ directory: "/in", fsync: 0 }).server.fsync, false);
});

Deno.test("client flags: the reference client's rules", () => {
  const c = client([
    "-a",
    "10.0.0.1",
    "-p",
    "5000",
    "-x",
    "pw",
    "-t",
    "2",
    "-r",
    "2",
    "-z",
    "-v",
    "f1",
    "f2",
  ]);
  assert.equal(c.client.host, "10.0.0.1");
  assert.equal(c.client.port, 5000);
  assert.equal(c.client.password, "pw");
  assert.equal(c.client.idleTimeoutMs, 6000);
  assert.equal(c.client.probe, false);
  assert.equal(c.compress, true);
  assert.deepEqual(c.files, ["f1", "f2"]);
  assert.equal(client(["-c", "f"]).client.tls, true);
  assert.deepEqual(client(["-e", "c", "-k", "k", "-f", "ca", "f"]).client.tls, {
    certFile: "c",
    keyFile: "k",
    caFile: "ca",
  });
  assert.equal(client(["-g"]).get, true);
  const bad: [string[], RegExp][] = [
    [[], /No files to send/],
    [["-c", "-e", "c", "f"], /-c and -e can not be used at the same time/],
    [["-f", "ca", "f"], /Flag -e must be set to enable peer certificate verify/],
    [["-k", "k", "f"], /Flag -e must be set to use a private key file/],
    [["-a", "-bad-", "f"], /Address -bad- is not valid/],
    [["-p", "0", "f"], /Port 0 is not valid/],
    [["-y", "proxy:8080", "f"], /HTTP proxy/],
  ];
  for (const [args, want] of bad) {
    assert.throws(
      () => client(args),
      (e: Error) => e instanceof UsageError && want.test(e.message),
      args.join(" "),
    );
  }
});
