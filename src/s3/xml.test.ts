// Request bodies as parseXml reads them: character references decoded in every element (ETag, Key, tag values),
// CDATA literal, and anything that could expand or exhaust the parser refused as MalformedXML.
import { describe, expect, it } from "vitest";
import { S3Error } from "../errors";
import { parseXml } from "./xml";

function malformed(text: string): string | undefined {
  try {
    parseXml(text);
    return undefined;
  } catch (error) {
    return error instanceof S3Error ? `${error.status} ${error.code}` : `not an S3Error: ${error}`;
  }
}

describe("parseXml", () => {
  it("decodes decimal, hex and named character references in a CompleteMultipartUpload", () => {
    const body = `<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>&#34;0a1b&#34;</ETag></Part>` +
      `<Part><PartNumber>2</PartNumber><ETag>&#x22;2c3d&#x22;</ETag></Part><Part><PartNumber>3</PartNumber><ETag>&quot;4e&quot;</ETag></Part></CompleteMultipartUpload>`;
    const parts = (parseXml(body).CompleteMultipartUpload as { Part: { ETag: string }[] }).Part;
    expect(parts.map((part) => part.ETag)).toEqual(['"0a1b"', '"2c3d"', '"4e"']);
  });

  it("decodes references in DeleteObjects keys and Tagging values, astral characters included", () => {
    const keys = parseXml(`<Delete><Object><Key>a &amp; b</Key></Object><Object><Key>&#x41;&#66;&lt;&gt;&apos;&#x1F600;</Key></Object></Delete>`);
    expect((keys.Delete as { Object: { Key: string }[] }).Object.map((o) => o.Key)).toEqual(["a & b", "AB<>'😀"]);
    const tagging = parseXml(`<Tagging><TagSet><Tag><Key>team&#x2F;app</Key><Value>R&amp;D &#8364;</Value></Tag></TagSet></Tagging>`);
    expect(tagging).toEqual({ Tagging: { TagSet: { Tag: { Key: "team/app", Value: "R&D €" } } } });
  });

  it("leaves CDATA literal (a reference inside it is text)", () => {
    expect(parseXml(`<Delete><Object><Key><![CDATA[a&#34;&amp;]]></Key></Object></Delete>`))
      .toEqual({ Delete: { Object: [{ Key: "a&#34;&amp;" }] } });
  });

  it("refuses a DOCTYPE: entities declared in the document are never expanded (no billion laughs)", () => {
    const lol = `<!DOCTYPE Delete [<!ENTITY l0 "lol">${Array.from({ length: 9 }, (_, i) =>
      `<!ENTITY l${i + 1} "${`&l${i};`.repeat(10)}">`).join("")}]><Delete><Object><Key>&l9;</Key></Object></Delete>`;
    expect(malformed(lol)).toBe("400 MalformedXML");
    expect(malformed(`<!DOCTYPE Delete><Delete><Object><Key>k</Key></Object></Delete>`)).toBe("400 MalformedXML");
  });

  it("refuses references to no XML character and undeclared names", () => {
    for (const reference of ["&nbsp;", "&#0;", "&#xD800;", "&#x110000;", "&#xFFFE;", "&foo;"]) {
      expect(malformed(`<Delete><Object><Key>${reference}</Key></Object></Delete>`), reference).toBe("400 MalformedXML");
    }
  });

  it("answers 400 MalformedXML, not 500, past the parser's nesting limit", () => {
    expect(malformed(`<a>${"<b>".repeat(500)}${"</b>".repeat(500)}</a>`)).toBe("400 MalformedXML");
  });
});
