/**
 * The `peer:` section of dmonitor.yaml: optional TLS for the peer endpoint and for contacting
 * peers. Parsed purely; files are read by {@link loadPeerTls}.
 * @module
 */
import { isAbsolute, resolve } from "node:path";
import type { SectionParser } from "../config/types.ts";
import { checkPeerKeyRequirement } from "./server.ts";
import { ConfigError, type ConfigProblem } from "../errors/mod.ts";
import { LIMITS, readTreeText, treeFileDetail, TreeFileError } from "../fsafe/mod.ts";

export interface PeerSettings {
  /** Serve https with this certificate chain and key, and reach peers over https. */
  tls: { certFile: string; keyFile: string } | null;
  /** CA certificate(s) that peers' certificates must chain to (default: the system roots). */
  caFile: string | null;
}

const KEYS = ["tls_cert", "tls_key", "ca"];

/** Pure: validates the raw `peer:` section; paths are resolved against the tree at `root`. */
export function parsePeerSettings(
  raw: unknown,
  root: string,
): { settings: PeerSettings; problems: ConfigProblem[] } {
  const problems: ConfigProblem[] = [];
  const settings: PeerSettings = { tls: null, caFile: null };
  if (raw === undefined || raw === null) return { settings, problems };
  const fail = (key: string, message: string) =>
    problems.push({ file: "dmonitor.yaml", key, message });
  if (typeof raw !== "object" || Array.isArray(raw)) {
    fail("peer", "must be a mapping with tls_cert, tls_key and ca");
    return { settings, problems };
  }
  const path = (key: string): string | null => {
    const v = (raw as Record<string, unknown>)[key];
    if (v === undefined || v === null) return null;
    if (typeof v !== "string" || v === "") {
      fail(`peer.${key}`, `must be a file path, got ${JSON.stringify(v)}`);
      return null;
    }
    return isAbsolute(v) ? v : resolve(root, v);
  };
  for (const k of Object.keys(raw)) {
    if (!KEYS.includes(k)) fail(`peer.${k}`, `is not a known setting (known: ${KEYS.join(", ")})`);
  }
  const cert = path("tls_cert");
  const key = path("tls_key");
  settings.caFile = path("ca");
  if ((cert === null) !== (key === null)) {
    fail(cert ? "peer.tls_key" : "peer.tls_cert", "is required with the other (both or neither)");
  } else if (cert && key) settings.tls = { certFile: cert, keyFile: key };
  return { settings, problems };
}

/**
 * `peer:` and the shared key's presence (a node with peers needs `peer.key`; its format is checked
 * where lib/config reads it), for the node's configuration.
 */
export const peerSection: SectionParser<PeerSettings> = {
  key: "peer",
  parse(raw, base, problems) {
    const r = parsePeerSettings(raw, base.root);
    problems.push(...r.problems);
    try {
      // A key that is present had its format checked where lib/config read it.
      if (base.peerKey === null) checkPeerKeyRequirement(base);
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      problems.push(...e.problems);
    }
    return r.settings;
  },
};

export interface PeerTls {
  /** For the listener. */
  serve: { cert: string; key: string } | null;
  /** For contacting peers over https. */
  client: Deno.HttpClient | null;
}

/** Reads the PEM files; throws ConfigError naming the key and file. */
export async function loadPeerTls(s: PeerSettings): Promise<PeerTls> {
  const problems: ConfigProblem[] = [];
  const read = async (key: string, file: string) => {
    try {
      return await readTreeText(file, { maxBytes: LIMITS.pem });
    } catch (e) {
      const why = e instanceof TreeFileError ? treeFileDetail(e) : (e as Error).message;
      problems.push({ file: "dmonitor.yaml", key, message: `cannot read ${file}: ${why}` });
      return "";
    }
  };
  const serve = s.tls
    ? {
      cert: await read("peer.tls_cert", s.tls.certFile),
      key: await read("peer.tls_key", s.tls.keyFile),
    }
    : null;
  const ca = s.caFile ? await read("peer.ca", s.caFile) : null;
  if (problems.length) throw new ConfigError(problems);
  const client = serve || ca ? Deno.createHttpClient(ca ? { caCerts: [ca] } : {}) : null;
  return { serve, client };
}
