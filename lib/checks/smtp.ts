/**
 * `smtp`: OK when the server greets with `220` (a multi-line `220-` greeting is read to its last
 * line); then says `QUIT` so the server logs a clean session.
 * @module
 */
import { type LineReader, withTcp } from "./net.ts";
import { defineCheck, fail, fmtMs, ok, oneLine, quote, since, timePerf } from "./util.ts";

/** One SMTP reply line split into code, continuation flag and text; null when malformed. */
export function parseReplyLine(
  line: string,
): { code: number; more: boolean; text: string } | null {
  const m = /^([2-5]\d\d)([ -]?)(.*)$/.exec(line);
  if (!m) return null;
  return { code: Number(m[1]), more: m[2] === "-", text: m[3] ?? "" };
}

/** The longest multi-line greeting we read before giving up on a chatty or broken server. */
const MAX_GREETING_LINES = 50;

/** Reads a whole (possibly multi-line) reply: its code and first line, or an error string. */
export async function readReply(
  lines: LineReader,
): Promise<{ code: number; first: string } | { error: string }> {
  let first: string | null = null;
  for (let i = 0; i < MAX_GREETING_LINES; i++) {
    const line = await lines.readLine();
    if (line === null) return { error: "closed the connection" + (first ? " mid-reply" : "") };
    const r = parseReplyLine(line);
    if (!r) return { error: `sent ${quote(oneLine(line))}, not an SMTP reply` };
    first ??= oneLine(line);
    if (!r.more) return { code: r.code, first };
  }
  return { error: `sent more than ${MAX_GREETING_LINES} greeting lines` };
}

export const smtp = defineCheck({
  name: "smtp",
  doc: "Reads the SMTP greeting; OK on `220`, then sends `QUIT`.",
  params: {
    port: { type: "port", default: 25, doc: "SMTP port." },
  },
}, (ctx, p) => {
  const port = p.int("port");
  return withTcp(ctx, port, "the SMTP greeting", async (s) => {
    const reply = await readReply(s.lines);
    const ms = since(s.t0);
    if ("error" in reply) return fail(`${s.where} ${reply.error}`, timePerf(ms));
    if (reply.code !== 220) {
      await s.tryWrite("QUIT\r\n");
      return fail(`${s.where} refused service: ${reply.first}`, timePerf(ms));
    }
    await s.tryWrite("QUIT\r\n");
    return ok(`${reply.first} on port ${port} in ${fmtMs(ms)}`, timePerf(ms));
  });
});
