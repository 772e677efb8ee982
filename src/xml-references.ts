// Character references in XML we read (request bodies and remote-S3 answers): &#34; &#x41; and the five named
// ones (&amp; &lt; &gt; &quot; &apos;). The AWS SDK for Go, and so rclone, writes every quote in <ETag> as &#34;.
// Nothing else is expanded: a document that declares entities (any DOCTYPE) is refused, so no entity can grow
// into a bomb. Sits at the bottom of the import graph beside errors.ts: both src/s3/ and src/storage/ parse XML.
import type { EntityDecoderOptions } from "fast-xml-parser";

const NAMED: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };
const REFERENCE = /&(?:#(\d+)|#x([0-9a-fA-F]+)|([A-Za-z][A-Za-z0-9]*));/g;

/** Thrown for a reference that names no XML character, or for a document that declares entities. */
export class XmlReferenceError extends Error {}

/** Replace every character reference in `text`; a reference to no XML character throws XmlReferenceError. */
export function decodeCharacterReferences(text: string): string {
  if (!text.includes("&")) return text;
  return text.replace(REFERENCE, (reference, decimal?: string, hex?: string, name?: string) => {
    if (name !== undefined) {
      const named = NAMED[name];
      if (named === undefined) throw new XmlReferenceError(`undeclared entity ${reference}`);
      return named;
    }
    const code = decimal !== undefined ? Number.parseInt(decimal, 10) : Number.parseInt(hex!, 16);
    if (!isXmlChar(code)) throw new XmlReferenceError(`${reference} is not an XML character`);
    return String.fromCodePoint(code);
  });
}

/** XML 1.0 `Char`: tab, LF, CR, and the Unicode scalar values from U+0020 except the surrogates, FFFE and FFFF. */
function isXmlChar(code: number): boolean {
  return code === 0x9 || code === 0xa || code === 0xd ||
    (code >= 0x20 && code <= 0xd7ff) || (code >= 0xe000 && code <= 0xfffd) || (code >= 0x10000 && code <= 0x10ffff);
}

/**
 * fast-xml-parser's `entityDecoder` option: decodes text with decodeCharacterReferences (CDATA stays literal, the
 * parser does not pass it here) and throws at a DOCTYPE instead of learning the entities it declares.
 */
export const characterReferenceDecoder: EntityDecoderOptions = {
  decode: decodeCharacterReferences,
  addInputEntities: () => {
    throw new XmlReferenceError("a DOCTYPE (entity declarations) is not accepted");
  },
  setExternalEntities: () => {},
  reset: () => {},
  setXmlVersion: () => {},
};
