/**
 * The shared records on the signed peer API, mounted behind its signature, body cap and deadline
 * middleware (lib/peers `createPeerApp({ routes })`):
 *
 * - `POST /v1/shared/push` `{records}`: a peer's change (one silence, removal or
 *   acknowledgement); merged and stored before the reply `{node, changed}`.
 * - `POST /v1/shared/digest` `{digest}`: the anti-entropy probe; the reply
 *   `{node, digest}` tells the asker whether to pull. A digest differing from ours makes this node pull too.
 * - `POST /v1/shared/pull` `{}`: every record this node holds, tombstones included.
 * @module
 */
import { ProtocolError } from "../errors/mod.ts";
import type { PeerRoutes } from "../peers/mod.ts";
import { parseRecords } from "./merge.ts";
import type { SharedState } from "./service.ts";

export function sharedPeerRoutes(shared: () => SharedState, nodeName: () => string): PeerRoutes {
  return (app, t) => {
    app.post("/v1/shared/push", (c) => {
      const body = t.json(c) as { records?: unknown } | null;
      const records = parseRecords(body?.records, "records");
      const changed = shared().received(t.sender(c), records);
      return t.reply(c, { node: nodeName(), changed });
    });
    app.post("/v1/shared/digest", (c) => {
      const d = (t.json(c) as { digest?: unknown } | null)?.digest;
      if (typeof d !== "string" || !/^[0-9a-f]{64}$/.test(d)) {
        throw new ProtocolError("digest: must be 64 hex digits");
      }
      const s = shared();
      s.heardDigest(t.sender(c), d);
      return t.reply(c, { node: nodeName(), digest: s.store.digest() });
    });
    app.post(
      "/v1/shared/pull",
      (c) => t.reply(c, { node: nodeName(), records: shared().store.all() }),
    );
  };
}
