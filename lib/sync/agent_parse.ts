/**
 * A tolerant reader of Pandora agent data files. Real agents write attribute values unescaped
 * (`description='Bob's box & <more>'`), text with bare `&` and `<`, and sometimes ISO-8859-1; an XML
 * library would refuse such files, so this reads them the way Pandora's own server effectively
 * does: an attribute value ends at a quote followed by the next `name=` or the end of the tag, the
 * root tag ends at a `>` followed by markup, and element text ends at its own closing tag (CDATA
 * sections are honoured). What it does insist on is the closing `</agent_data>`: a file cut short is
 * refused, never half-ingested. Pure.
 * @module
 */

export interface AgentModule {
  name: string;
  type: string;
  data: string;
  description: string | null;
  /** Other children (unit, module_interval, dmonitor_at, datalist as raw markup, ...). */
  extra: Record<string, string>;
}

export interface AgentData {
  attrs: Record<string, string>;
  modules: AgentModule[];
}

/** A file that cannot be read as agent data (cut short, not agent data at all, ...). */
export class AgentDataError extends Error {
  override name = "AgentDataError";
}

const ENTITIES: Record<string, string> = { lt: "<", gt: ">", amp: "&", apos: "'", quot: '"' };

/** Decodes the five XML entities and character references; anything else is kept as written. */
export function decodeEntities(s: string): string {
  if (!s.includes("&")) return s;
  return s.replace(/&(#x[0-9a-fA-F]{1,6}|#\d{1,7}|lt|gt|amp|apos|quot);/g, (all, e: string) => {
    if (e[0] !== "#") return ENTITIES[e]!;
    const cp = e[1] === "x" ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
    return cp <= 0x10ffff ? String.fromCodePoint(cp) : all;
  });
}

/** Decodes the bytes: ISO-8859-1 when the declaration says so, else UTF-8 (never throws). */
export function decodeText(bytes: Uint8Array): string {
  const head = new TextDecoder("latin1").decode(bytes.subarray(0, 200));
  const enc = /encoding\s*=\s*['"]([^'"]+)['"]/i.exec(head)?.[1]?.toLowerCase() ?? "utf-8";
  const latin = ["iso-8859-1", "iso8859-1", "latin1", "latin-1", "windows-1252", "cp1252"].includes(
    enc,
  );
  return new TextDecoder(latin ? "windows-1252" : "utf-8").decode(bytes).replace(/^\ufeff/, "");
}

const NAME = "[A-Za-z_:][\\w:.-]*";

/** Reads the attributes of a start tag's inside (`name='v' other="w"`), tolerating unescaped values. */
export function parseAttributes(tag: string): Record<string, string> {
  const attrs: Record<string, string> = {};
  const start = new RegExp(`(${NAME})\\s*=\\s*(['"]?)`, "y");
  let i = 0;
  while (i < tag.length) {
    while (i < tag.length && /\s/.test(tag[i]!)) i++;
    if (i >= tag.length || tag[i] === "/") break;
    start.lastIndex = i;
    const m = start.exec(tag);
    if (!m) {
      // Junk between attributes: skip one word.
      while (i < tag.length && !/\s/.test(tag[i]!)) i++;
      continue;
    }
    const name = m[1]!;
    const quote = m[2]!;
    const v = start.lastIndex;
    let end: number;
    let next: number;
    if (quote === "") {
      const ws = tag.slice(v).search(/\s/);
      end = ws < 0 ? tag.length : v + ws;
      next = end;
    } else {
      // The value ends at a quote followed by another attribute or by the end of the tag.
      const close = new RegExp(`${quote}(?=\\s+${NAME}\\s*=|\\s*/?\\s*$)`, "g");
      close.lastIndex = v;
      const c = close.exec(tag);
      end = c ? c.index : tag.length;
      next = c ? c.index + 1 : tag.length;
    }
    attrs[name] = decodeEntities(tag.slice(v, end));
    i = next;
  }
  return attrs;
}

interface Element {
  name: string;
  /** Text with CDATA unwrapped and entities decoded; raw markup when it has child elements. */
  value: string;
  hasChildren: boolean;
  end: number;
}

function truncated(what: string): never {
  throw new AgentDataError(`file is cut short or malformed: ${what}`);
}

/** Reads the element starting at `s[pos] === "<"`. */
function readElement(s: string, pos: number): Element {
  const open = new RegExp(`<(${NAME})([^<>]*?)(/?)>`, "y");
  open.lastIndex = pos;
  const m = open.exec(s);
  if (!m) truncated(`bad tag at offset ${pos}`);
  const name = m[1]!;
  if (m[3] === "/") return { name, value: "", hasChildren: false, end: open.lastIndex };
  let i = open.lastIndex;
  let text = "";
  let cdata = "";
  let sawCdata = false;
  let hasChildren = false;
  const closeTag = new RegExp(`</${name.replace(/[.:]/g, "\\$&")}\\s*>`, "y");
  for (;;) {
    const lt = s.indexOf("<", i);
    if (lt < 0) truncated(`no </${name}>`);
    text += s.slice(i, lt);
    i = lt;
    if (s.startsWith("<![CDATA[", i)) {
      const e = s.indexOf("]]>", i + 9);
      if (e < 0) truncated("unterminated CDATA");
      cdata += s.slice(i + 9, e);
      sawCdata = true;
      i = e + 3;
      continue;
    }
    closeTag.lastIndex = i;
    if (closeTag.test(s)) {
      const raw = s.slice(open.lastIndex, i);
      const value = hasChildren
        ? raw.trim()
        : sawCdata
        ? cdata + decodeEntities(text.trim())
        : decodeEntities(text);
      return { name, value, hasChildren, end: closeTag.lastIndex };
    }
    if (s.startsWith("<!--", i)) {
      const e = s.indexOf("-->", i + 4);
      if (e < 0) truncated("unterminated comment");
      i = e + 3;
      continue;
    }
    if (new RegExp(`<${NAME}[^<>]*>`, "y").test(s.slice(i, i + 300))) {
      try {
        const child = readElement(s, i);
        hasChildren = true;
        i = child.end;
        continue;
      } catch (e) {
        if (!(e instanceof AgentDataError)) throw e; // else: not an element after all, just text
      }
    }
    // A bare '<' in text (real agents write them): keep it as text.
    text += "<";
    i++;
  }
}

/** Parses an agent data file. Throws AgentDataError when it is not complete agent data. */
export function parseAgentData(bytes: Uint8Array): AgentData {
  const s = decodeText(bytes);
  let i = 0;
  for (;;) {
    while (i < s.length && /\s/.test(s[i]!)) i++;
    if (s.startsWith("<?", i)) {
      i = s.indexOf("?>", i) < 0 ? truncated("bad declaration") : s.indexOf("?>", i) + 2;
    } else if (s.startsWith("<!--", i)) {
      i = s.indexOf("-->", i) < 0 ? truncated("bad comment") : s.indexOf("-->", i) + 3;
    } else if (s.startsWith("<!", i)) {
      i = s.indexOf(">", i) < 0 ? truncated("bad doctype") : s.indexOf(">", i) + 1;
    } else break;
  }
  if (!/^<agent_data[\s/>]/.test(s.slice(i, i + 12))) {
    throw new AgentDataError(
      s.length === 0 ? "file is empty" : "not agent data: no <agent_data> root element",
    );
  }
  // The root tag ends at the first '>' followed by markup or by the end (values may hold '>').
  const tagEnd = /\/?>(?=\s*(<|$))/g;
  tagEnd.lastIndex = i + 11;
  const t = tagEnd.exec(s);
  if (!t) truncated("the <agent_data> tag never ends");
  const attrs = parseAttributes(s.slice(i + 11, t.index));
  if (t[0] === "/>") {
    if (s.slice(tagEnd.lastIndex).trim() !== "") truncated("content after an empty <agent_data/>");
    return { attrs, modules: [] };
  }
  const close = s.lastIndexOf("</agent_data");
  if (close < 0 || !/^<\/agent_data\s*>\s*$/.test(s.slice(close))) {
    truncated("no closing </agent_data>");
  }
  const modules: AgentModule[] = [];
  let p = tagEnd.lastIndex;
  while (p < close) {
    const lt = s.indexOf("<", p);
    if (lt < 0 || lt >= close) break;
    if (s.startsWith("<!--", lt)) {
      p = s.indexOf("-->", lt) + 3;
      if (p < 3) truncated("unterminated comment");
      continue;
    }
    const el = readElement(s, lt);
    p = el.end;
    if (el.name !== "module") continue; // other children (e.g. collections) are not ours to read
    const m = readModule(s.slice(lt, el.end));
    if (m) modules.push(m);
  }
  if (attrs.agent_name === undefined || attrs.agent_name === "") {
    throw new AgentDataError("agent data without agent_name");
  }
  return { attrs, modules };
}

function readModule(text: string): AgentModule | null {
  const open = /^<module[^>]*>/.exec(text)!;
  const close = text.lastIndexOf("</module");
  const fields: Record<string, string> = {};
  let p = open[0].length;
  while (p < close) {
    const lt = text.indexOf("<", p);
    if (lt < 0 || lt >= close) break;
    if (text.startsWith("<!--", lt)) {
      p = text.indexOf("-->", lt) + 3;
      continue;
    }
    const el = readElement(text, lt);
    p = el.end;
    if (!(el.name in fields)) fields[el.name] = el.value;
  }
  const { name, type, data, description, ...extra } = fields;
  if (name === undefined || name.trim() === "") return null; // Pandora skips nameless modules too
  return {
    name: name.trim(),
    type: (type ?? "").trim(),
    data: data ?? "",
    description: description ?? null,
    extra,
  };
}
