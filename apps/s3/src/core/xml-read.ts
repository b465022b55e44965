/**
 * Reading the few small XML bodies S3 requests carry (DeleteObjects' list of keys): a bounded
 * parser of elements and text, no attributes kept, no DTDs, no external anything. A body it
 * cannot read is MalformedXML; bounds are checked before anything is built.
 */

/** S3 refuses request bodies of XML larger than this for the operations we read. */
export const XML_BODY_BYTES_MAX = 2 * 1024 * 1024;
const DEPTH_MAX = 16;

export interface XmlElement {
  readonly name: string;
  readonly children: XmlElement[];
  text: string;
}

const ENTITIES: Readonly<Record<string, string>> = {
  amp: "&",
  lt: "<",
  gt: ">",
  quot: '"',
  apos: "'",
};

function codePointText(code: number): string | undefined {
  if (code === 0 || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return undefined;
  return String.fromCodePoint(code);
}

/** Text with its entities decoded; null if an '&' starts no entity we know. */
function decodeEntities(text: string): string | null {
  let out = "";
  let at = 0;
  for (;;) {
    const amp = text.indexOf("&", at);
    if (amp < 0) return out + text.slice(at);
    const semicolon = text.indexOf(";", amp);
    if (semicolon < 0 || semicolon - amp > 10) return null;
    const entity = text.slice(amp + 1, semicolon);
    const char = /^#x[0-9a-fA-F]{1,6}$/.test(entity)
      ? codePointText(Number.parseInt(entity.slice(2), 16))
      : /^#[0-9]{1,7}$/.test(entity)
        ? codePointText(Number.parseInt(entity.slice(1), 10))
        : ENTITIES[entity];
    if (char === undefined) return null;
    out += text.slice(at, amp) + char;
    at = semicolon + 1;
  }
}

/** The document's root element, or null when the text is not the XML we read. */
export function parseXml(text: string): XmlElement | null {
  const body = text
    .replace(/^\uFEFF/, "")
    .replace(/^<\?xml[^?]*\?>/, "")
    .trim();
  if (body.includes("<!")) return null; // no DTDs, comments or CDATA in these bodies
  const stack: XmlElement[] = [];
  let root: XmlElement | null = null;
  const tag = /<(\/?)([A-Za-z_][\w.-]*)((?:\s+[\w:.-]+\s*=\s*("[^"]*"|'[^']*'))*)\s*(\/?)>/g;
  let at = 0;
  for (let match = tag.exec(body); match !== null; match = tag.exec(body)) {
    const between = body.slice(at, match.index);
    const parent = stack.at(-1);
    if (between.trim() !== "") {
      if (parent === undefined) return null;
      const decoded = decodeEntities(between);
      if (decoded === null || between.includes("<")) return null;
      parent.text += decoded;
    } else if (parent !== undefined) {
      parent.text += between;
    }
    at = match.index + match[0].length;
    const [, closing, name = "", , , selfClosing] = match;
    if (closing === "/") {
      const open = stack.pop();
      if (open === undefined || open.name !== name) return null;
      if (stack.length === 0) {
        if (root !== null) return null;
        root = open;
      }
      continue;
    }
    const element: XmlElement = { name, children: [], text: "" };
    if (parent !== undefined) parent.children.push(element);
    else if (root !== null) return null;
    if (selfClosing === "/") {
      if (parent === undefined) root = element;
      continue;
    }
    if (stack.length >= DEPTH_MAX) return null;
    stack.push(element);
  }
  if (stack.length > 0 || root === null || body.slice(at).trim() !== "") return null;
  return root;
}

/** The children named `name`. */
export function childrenNamed(element: XmlElement, name: string): XmlElement[] {
  return element.children.filter((child) => child.name === name);
}

/** The text of the first child named `name`, or null. */
export function childText(element: XmlElement, name: string): string | null {
  return element.children.find((child) => child.name === name)?.text ?? null;
}
