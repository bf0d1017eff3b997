/**
 * The Tentacle `PASS` digest, apart from protocol.ts: the node's settings read protocol.ts (the
 * default port, `-i` filters) on every start, and MD5 needs node:crypto, whose Node compatibility
 * layer only a Tentacle server or client should pay for (issue 14).
 * @module
 */
import { createHash } from "node:crypto";

/** The `PASS` argument: lowercase hex of MD5(raw 16-byte MD5(password)), as both references do. */
export function passwordDigest(password: string): string {
  const inner = createHash("md5").update(password, "utf8").digest();
  return createHash("md5").update(inner).digest("hex");
}
