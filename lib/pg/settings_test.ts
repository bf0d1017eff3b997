// The store: section: a URL or its parts, password_file, TLS; every problem names file, key, value.
import assert from "node:assert/strict";
import { parseStoreSection } from "./settings.ts";
import { formatProblem } from "../errors/mod.ts";

const parse = (raw: unknown) => parseStoreSection(raw, { root: "/etc/dmonitor" });

Deno.test("store: absent is SQLite; a URL or host/port/database/user configure PostgreSQL", () => {
  assert.deepEqual(parse(undefined), { settings: null, problems: [] });
  const cases: [unknown, Record<string, unknown>][] = [
    ["postgres://mon@10.0.0.5:6432/central", {
      host: "10.0.0.5",
      port: 6432,
      database: "central",
      user: "mon",
      tls: null,
    }],
    [{ url: "postgresql://10.0.0.5/central?sslmode=verify-full", password_file: "pg.pw" }, {
      host: "10.0.0.5",
      port: 5432,
      database: "central",
      user: "dmonitor",
      passwordFile: "/etc/dmonitor/pg.pw",
      tls: { mode: "verify", caFile: undefined, certFile: undefined, keyFile: undefined },
    }],
    [{ host: "db1", port: 5433, database: "d", user: "u", tls: "require", pool: 8 }, {
      host: "db1",
      port: 5433,
      database: "d",
      user: "u",
      poolSize: 8,
      tls: { mode: "require", caFile: undefined, certFile: undefined, keyFile: undefined },
    }],
    [{ host: "db1", tls_ca: "/etc/ssl/pg-ca.crt", tls_cert: "c.crt", tls_key: "c.key" }, {
      tls: {
        mode: "verify",
        caFile: "/etc/ssl/pg-ca.crt",
        certFile: "/etc/dmonitor/c.crt",
        keyFile: "/etc/dmonitor/c.key",
      },
    }],
    [{ socket: "/run/postgresql", connect_timeout: "3s" }, {
      path: "/run/postgresql",
      connectTimeoutMs: 3000,
    }],
    ["postgres://u:secret@[::1]:5432/d", { host: "::1", password: "secret" }],
  ];
  for (const [raw, want] of cases) {
    const { settings, problems } = parse(raw);
    assert.deepEqual(problems, [], JSON.stringify(raw));
    for (const [k, v] of Object.entries(want)) {
      assert.deepEqual(
        (settings as unknown as Record<string, unknown>)[k],
        v,
        `${JSON.stringify(raw)} ${k}`,
      );
    }
  }
});

Deno.test("store: bad values are refused, each naming dmonitor.yaml, the key and the value", () => {
  const cases: [unknown, string[]][] = [
    [{ url: "mysql://h/db" }, [
      "dmonitor.yaml: 'store.url' must be a postgres:// or postgresql:// URL, got \"mysql://h/db\"",
    ]],
    [{ url: "not a url" }, [
      "dmonitor.yaml: 'store.url' must be a URL such as postgres://dmonitor@10.0.0.5:5432/dmonitor, got \"not a url\"",
    ]],
    [{ url: "postgres://h/db?sslmode=sometimes" }, [
      "dmonitor.yaml: 'store.url' has an sslmode that is not known, got \"sometimes\"",
    ]],
    [{ url: "postgres://h/db", host: "x" }, [
      "dmonitor.yaml: 'store.host' cannot be given with url (the URL says it)",
    ]],
    [{ host: "db", port: 99999 }, ["dmonitor.yaml: 'store.port' must be 1-65535, got 99999"]],
    [{ host: "db", database: "a b" }, [
      "dmonitor.yaml: 'store.database' must be a database name (letters, digits, _ . -), got \"a b\"",
    ]],
    [{ host: "db", tls: "maybe" }, [
      "dmonitor.yaml: 'store.tls' must be one of off, require, verify, got \"maybe\"",
    ]],
    [{ host: "db", tls_cert: "c.crt" }, [
      "dmonitor.yaml: 'store.tls_cert' and tls_key must be given together (the client certificate and its key)",
    ]],
    [{ host: "db", tls: "off", tls_ca: "ca.crt" }, [
      "dmonitor.yaml: 'store.tls' is \"off\" but tls_ca, tls_cert or tls_key is set",
    ]],
    [{ port: 5432 }, [
      "dmonitor.yaml: 'store' needs url, host or socket (where the PostgreSQL server is)",
    ]],
    [{ host: "db", pool: 0 }, ["dmonitor.yaml: 'store.pool' must be from 1 to 100, got 0"]],
    [{ host: "db", passwd: "x" }, [
      "dmonitor.yaml: 'store.passwd' is not a known setting (known: url, host, port, socket, database, user, password_file, tls, tls_ca, tls_cert, tls_key, pool, connect_timeout)",
    ]],
    [[1, 2], [
      "dmonitor.yaml: 'store' must be a mapping (url, or host, port, database, user, password_file, tls, ...), got a list",
    ]],
  ];
  for (const [raw, want] of cases) {
    const { settings, problems } = parse(raw);
    assert.equal(settings, null, JSON.stringify(raw));
    assert.deepEqual(problems.map(formatProblem), want);
  }
});
