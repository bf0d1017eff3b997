/**
 * `tcp`: OK when a TCP connection to `port` opens. Nothing is sent; the socket is closed at once.
 * @module
 */
import { withTcp } from "./net.ts";
import { defineCheck, fmtMs, ok, timePerf } from "./util.ts";

export const tcp = defineCheck(
  {
    name: "tcp",
    doc: "Opens a TCP connection to the port; OK when it connects.",
    params: {
      port: { type: "port", required: true, doc: "TCP port to connect to (required)." },
    },
  },
  (ctx, p) =>
    withTcp(ctx, p.int("port"), "the connection", (s) =>
      Promise.resolve(
        ok(`connected to ${s.where} in ${fmtMs(s.connectMs)}`, timePerf(s.connectMs)),
      )),
);
