// Fuzzing the XML request bodies (DeleteObjects, CompleteMultipartUpload, CreateBucket, ACL policies): any text
// -- random, S3-shaped and then mutated, or hostile (deep nesting, DTD entities, huge attribute counts) -- is
// either parsed into a value or refused with MalformedXML (400), never another exception (a 500), and in
// bounded time.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseXml } from "../../src/s3/xml";
import { parseDeleteRequest } from "../../src/s3/ops/delete";
import { parseCompleteBody } from "../../src/s3/ops/multipart";
import { fuzzRuns, outcomeOf } from "./helpers/fuzz";

/** Every parser of a request body, as the operations call them. */
const PARSERS: Record<string, (text: string) => unknown> = {
  parseXml,
  parseDeleteRequest,
  parseCompleteBody,
};

/** The property: a value, or MalformedXML with status 400; anything else rethrows and fails the case. */
async function parsesOrMalformed(text: string): Promise<void> {
  for (const [name, parse] of Object.entries(PARSERS)) {
    const outcome = await outcomeOf(() => parse(text));
    if (!outcome.ok) {
      expect([name, outcome.error.code, outcome.error.status]).toEqual([name, "MalformedXML", 400]);
    }
  }
}

// ---- generators ----

/** Element names the parsers look for, plus names that are special to JavaScript objects. */
const NAMES = [
  "Delete", "Object", "Key", "Quiet", "VersionId", "CompleteMultipartUpload", "Part", "PartNumber", "ETag",
  "ChecksumCRC32", "AccessControlPolicy", "Owner", "ID", "AccessControlList", "Grant", "Grantee", "Permission",
  "CreateBucketConfiguration", "LocationConstraint", "Tagging", "TagSet", "Tag", "s3:Key", "xsi:type",
  "__proto__", "constructor", "prototype", "toString", "valueOf", "hasOwnProperty", "a", "_",
];

const text = fc.oneof(
  fc.constantFrom("", "1", "true", "false", "\"etag\"", "FULL_CONTROL", " ", "\n\t"),
  fc.constantFrom("&amp;", "&lt;", "&gt;", "&quot;", "&apos;", "&#65;", "&#x1F600;", "&#0;", "&#xFFFFFFFF;", "&e;", "&", "&#;"),
  fc.constantFrom("<![CDATA[x]]>", "<![CDATA[<Key>]]>", "<!-- c -->", "<?pi data?>"),
  fc.string({ maxLength: 12 }),
  fc.string({ unit: "grapheme", maxLength: 6 }),
);

const attribute = fc.tuple(fc.constantFrom(...NAMES, "xmlns", "xmlns:xsi", "a b", "1x"), fc.string({ maxLength: 6 }))
  .map(([name, value]) => ` ${name}="${value}"`);

/** S3-shaped XML trees: nested elements over the names above, with text, entities, CDATA and attributes. */
const { element } = fc.letrec<{ element: string }>((tie) => ({
  element: fc.tuple(
    fc.constantFrom(...NAMES),
    fc.array(attribute, { maxLength: 3 }),
    fc.array(fc.oneof({ depthSize: "small" }, text, tie("element")), { maxLength: 4 }),
  ).map(([name, attributes, children]) => `<${name}${attributes.join("")}>${children.join("")}</${name}>`),
}));

const prolog = fc.constantFrom(
  "", '<?xml version="1.0" encoding="UTF-8"?>\n', '<?xml version="1.0"?>',
  '<!DOCTYPE Delete [<!ENTITY e "entity">]>', '<!DOCTYPE a SYSTEM "http://example.test/a.dtd">',
  '<!DOCTYPE a [<!ENTITY e SYSTEM "file:///etc/passwd">]>', '<!DOCTYPE a [<!ENTITY % p "x"> %p;]>',
  '<!DOCTYPE a [<!ENTITY a "aaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>',
);

const document = fc.tuple(prolog, element).map(([p, e]) => p + e);

/** A mutation of a document: delete, insert or duplicate a slice, or swap two characters. */
function mutated(doc: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc.tuple(doc, fc.array(fc.tuple(fc.nat(), fc.nat({ max: 8 }), fc.constantFrom("delete", "insert", "duplicate", "swap"), fc.string({ maxLength: 4 })), { minLength: 1, maxLength: 4 }))
    .map(([start, edits]) => edits.reduce((s, [at, length, how, insert]) => {
      const i = s.length === 0 ? 0 : at % s.length;
      switch (how) {
        case "delete": return s.slice(0, i) + s.slice(i + length);
        case "insert": return s.slice(0, i) + insert + s.slice(i);
        case "duplicate": return s.slice(0, i + length) + s.slice(i, i + length) + s.slice(i + length);
        default: return s.slice(0, i) + s.slice(i + 1, i + 2) + s.slice(i, i + 1) + s.slice(i + 2);
      }
    }, start));
}

// ---- properties ----

describe("XML request bodies under fuzzing", () => {
  it("arbitrary text is parsed or refused with MalformedXML", async () => {
    await fc.assert(fc.asyncProperty(fc.oneof(fc.string(), fc.string({ unit: "binary" }), fc.string({ unit: "grapheme" })), parsesOrMalformed), { numRuns: fuzzRuns(500) });
  });

  it("S3-shaped XML documents are parsed or refused with MalformedXML", async () => {
    await fc.assert(fc.asyncProperty(document, parsesOrMalformed), { numRuns: fuzzRuns(500) });
  });

  it("mutated S3-shaped XML documents are parsed or refused with MalformedXML", async () => {
    await fc.assert(fc.asyncProperty(mutated(document), parsesOrMalformed), { numRuns: fuzzRuns(500) });
  });

  it("a parsed Delete body yields only non-empty string keys, at most 1000", async () => {
    const deleteBody = fc.tuple(prolog, fc.array(element, { maxLength: 5 }), fc.array(fc.string({ maxLength: 8 }), { maxLength: 5 }))
      .map(([p, extra, keys]) => `${p}<Delete>${keys.map((k) => `<Object><Key>${k.replace(/[<&]/g, "")}</Key></Object>`).join("")}${extra.join("")}</Delete>`);
    await fc.assert(fc.asyncProperty(deleteBody, async (body) => {
      const outcome = await outcomeOf(() => parseDeleteRequest(body));
      if (!outcome.ok) {
        expect(outcome.error.code).toBe("MalformedXML");
        return;
      }
      expect(outcome.value.keys.length).toBeGreaterThan(0);
      expect(outcome.value.keys.length).toBeLessThanOrEqual(1000);
      for (const key of outcome.value.keys) expect(typeof key === "string" && key !== "").toBe(true);
    }), { numRuns: fuzzRuns(300) });
  });
});

describe("hostile XML bodies", () => {
  // Each is refused or parsed in well under the Worker's CPU budget; the sizes are below the bodies' caps.
  const TIME_LIMIT_MS = 10_000;
  const hostile: Array<[string, string]> = [
    ["deep nesting (20000 levels)", "<Delete>" + "<a>".repeat(20_000) + "</a>".repeat(20_000) + "</Delete>"],
    ["deep nesting (100000 levels)", "<a>".repeat(100_000) + "</a>".repeat(100_000)],
    ["deep nesting, unclosed", "<a>".repeat(100_000)],
    ["DTD entity expanded past the parser's limit", '<!DOCTYPE d [<!ENTITY a "aaaaaaaaaa">]><Delete>' + "&a;".repeat(20_000) + "</Delete>"],
    ["nested DTD entities (billion laughs)", '<!DOCTYPE d [<!ENTITY a "lol"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]><Delete><Object><Key>&d;</Key></Object></Delete>'],
    ["more DTD entities than the parser allows", "<!DOCTYPE d [" + Array.from({ length: 1_500 }, (_, i) => `<!ENTITY e${i} "v">`).join("") + "]><Delete/>"],
    ["an external entity", '<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><Delete><Object><Key>&x;</Key></Object></Delete>'],
    ["a parameter entity", '<!DOCTYPE d [<!ENTITY % p "x">]><Delete/>'],
    ["a __proto__ element", "<Delete><__proto__><Key>x</Key></__proto__><Object><Key>k</Key></Object></Delete>"],
    ["20000 attributes", "<Delete " + Array.from({ length: 20_000 }, (_, i) => `a${i}="${i}"`).join(" ") + "/>"],
    ["a duplicated attribute", '<Delete a="1" a="2"/>'],
    ["10000 sibling elements", "<Delete>" + "<Object><Key>k</Key></Object>".repeat(10_000) + "</Delete>"],
    ["a 1 MiB text node", "<Delete><Object><Key>" + "k".repeat(1 << 20) + "</Key></Object></Delete>"],
  ];

  it.each(hostile)("%s: parsed or MalformedXML, in bounded time", async (_name, body) => {
    const started = Date.now();
    await parsesOrMalformed(body);
    expect(Date.now() - started).toBeLessThan(TIME_LIMIT_MS);
  });
});
