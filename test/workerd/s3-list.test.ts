// ListObjectsV2 and ListObjects (v1): paging across hundreds of keys, delimiters, markers, URL encoding.
import { beforeAll, describe, expect, it } from "vitest";
import { s3, xmlOf } from "./s3-support";

const B = "/default";
const ROOT = "paging/";
/** 3 directories × 70 keys + 90 flat keys = 300 keys, plus zips whose internal names must never show. */
const KEYS: string[] = [];
for (const dir of ["alpha", "beta", "gamma"]) for (let i = 0; i < 70; i++) KEYS.push(`${ROOT}${dir}/f${String(i).padStart(3, "0")}.txt`);
for (let i = 0; i < 90; i++) KEYS.push(`${ROOT}flat-${String(i).padStart(3, "0")}.txt`);
const ZIPS = [`${ROOT}builds/app-1.zip`, `${ROOT}builds/app-2.zip`];
const ALL = [...KEYS, ...ZIPS].sort();

beforeAll(async () => {
  for (let i = 0; i < KEYS.length; i += 25) {
    await Promise.all(KEYS.slice(i, i + 25).map((key) => s3("PUT", `${B}/${key}`, { body: new Uint8Array([1, 2, 3]) })));
  }
  const base = new Uint8Array(50_000).map((_, i) => (i * 31) & 0xff);
  await s3("PUT", `${B}/${ZIPS[0]}`, { body: base });
  base[100] ^= 1;
  await s3("PUT", `${B}/${ZIPS[1]}`, { body: base });
}, 120_000);

async function listV2(query: string) {
  return (await xmlOf(await s3("GET", `${B}?list-type=2&${query}`))).ListBucketResult;
}

async function listV1(query: string) {
  return (await xmlOf(await s3("GET", `${B}?${query}`))).ListBucketResult;
}

describe("ListObjectsV2", () => {
  it("an empty continuation-token lists from the first key, as if it were absent", async () => {
    const page = await listV2(`prefix=${ROOT}&max-keys=5&continuation-token=`);
    expect(page.Contents.map((c: any) => c.Key)).toEqual(ALL.slice(0, 5));
    expect(page.IsTruncated).toBe("true");
  });

  it("pages with continuation tokens through every key exactly once, in order", async () => {
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page = await listV2(`prefix=${ROOT}&max-keys=37${token ? `&continuation-token=${encodeURIComponent(token)}` : ""}`);
      pages++;
      const keys = (page.Contents ?? []).map((c: any) => c.Key);
      expect(Number(page.KeyCount)).toBe(keys.length);
      expect(keys.length).toBeLessThanOrEqual(37);
      seen.push(...keys);
      token = page.IsTruncated === "true" ? page.NextContinuationToken : undefined;
    } while (token);
    expect(seen).toEqual(ALL);
    expect(pages).toBeGreaterThanOrEqual(Math.ceil(ALL.length / 37));
  });

  it("shows user keys with original sizes, never reference.bin, .delta or .meta", async () => {
    const page = await listV2(`prefix=${ROOT}builds/`);
    expect(page.Contents.map((c: any) => c.Key)).toEqual(ZIPS);
    expect(page.Contents.map((c: any) => Number(c.Size))).toEqual([50_000, 50_000]);
    expect(page.Contents[0].ETag).toMatch(/^"[0-9a-f]{32}"$/);
    expect(page.Contents[0].StorageClass).toBe("STANDARD");
  });

  it("with a delimiter, directories become common prefixes and paging counts both", async () => {
    const entries: string[] = [];
    let token: string | undefined;
    do {
      const page = await listV2(`prefix=${ROOT}&delimiter=/&max-keys=20${token ? `&continuation-token=${encodeURIComponent(token)}` : ""}`);
      entries.push(...(page.Contents ?? []).map((c: any) => c.Key), ...(page.CommonPrefixes ?? []).map((p: any) => p.Prefix));
      token = page.IsTruncated === "true" ? page.NextContinuationToken : undefined;
    } while (token);
    const expected = [`${ROOT}alpha/`, `${ROOT}beta/`, `${ROOT}builds/`, `${ROOT}gamma/`, ...KEYS.filter((k) => k.startsWith(`${ROOT}flat-`))];
    expect(entries.sort()).toEqual(expected.sort());
  });

  it("start-after skips keys up to and including the given key", async () => {
    const page = await listV2(`prefix=${ROOT}&start-after=${ROOT}gamma/f068.txt&max-keys=3`);
    expect(page.Contents.map((c: any) => c.Key)).toEqual(ALL.filter((k) => k > `${ROOT}gamma/f068.txt`).slice(0, 3));
    expect(page.StartAfter).toBe(`${ROOT}gamma/f068.txt`);
  });

  it("max-keys=0 returns nothing and is not truncated; a bad max-keys is InvalidArgument", async () => {
    const page = await listV2(`prefix=${ROOT}&max-keys=0`);
    expect(page.Contents).toBeUndefined();
    expect(page.IsTruncated).toBe("false");
    const bad = await s3("GET", `${B}?list-type=2&max-keys=-1`);
    expect(bad.status).toBe(400);
  });

  it("fetch-owner=true adds the Owner to each entry", async () => {
    const page = await listV2(`prefix=${ROOT}builds/&fetch-owner=true`);
    expect(page.Contents[0].Owner.ID).toBeTruthy();
    const without = await listV2(`prefix=${ROOT}builds/`);
    expect(without.Contents[0].Owner).toBeUndefined();
  });

  it("encoding-type=url percent-encodes keys and prefixes", async () => {
    await s3("PUT", `${B}/enc/a%20b%26c.txt`, { body: new Uint8Array([1]) });
    const page = await listV2("prefix=enc/&encoding-type=url");
    expect(page.EncodingType).toBe("url");
    expect(page.Contents[0].Key).toBe("enc/a%20b%26c.txt");
    expect(decodeURIComponent(page.Contents[0].Key)).toBe("enc/a b&c.txt");
  });

  it("encoding-type=url encodes exactly the fields botocore decodes: v2 Prefix, StartAfter, Key, CommonPrefixes", async () => {
    for (const key of ["a b.txt", "c d.txt", "sub dir/x.txt"]) {
      await s3("PUT", `${B}/enc-echo/sp%20ace/${encodeURIComponent(key).replace("%2F", "/")}`, { body: new Uint8Array([1]) });
    }
    const page = await listV2(`prefix=${encodeURIComponent("enc-echo/sp ace/")}&delimiter=/&start-after=${encodeURIComponent("enc-echo/sp ace/a b.txt")}&encoding-type=url`);
    expect([page.Prefix, page.StartAfter, page.Delimiter]).toEqual(["enc-echo/sp%20ace/", "enc-echo/sp%20ace/a%20b.txt", "/"]);
    expect(page.Contents.map((c: any) => c.Key)).toEqual(["enc-echo/sp%20ace/c%20d.txt"]);
    expect(page.CommonPrefixes.map((p: any) => p.Prefix)).toEqual(["enc-echo/sp%20ace/sub%20dir/"]);
  });

  it("a prefix that matches nothing is an empty, untruncated listing", async () => {
    const page = await listV2("prefix=does-not-exist/");
    expect(page.Contents).toBeUndefined();
    expect(page.KeyCount).toBe("0");
    expect(page.IsTruncated).toBe("false");
  });
});

describe("ListObjects (v1)", () => {
  it("encoding-type=url encodes Marker, NextMarker, Key and CommonPrefixes but echoes Prefix as sent, as S3 does", async () => {
    for (const key of ["a b.txt", "c d.txt", "e f.txt"]) await s3("PUT", `${B}/enc-v1/sp%20ace/${encodeURIComponent(key)}`, { body: new Uint8Array([1]) });
    const page = await listV1(`prefix=${encodeURIComponent("enc-v1/sp ace/")}&marker=${encodeURIComponent("enc-v1/sp ace/a b.txt")}&max-keys=1&encoding-type=url`);
    expect([page.Prefix, page.Marker, page.NextMarker]).toEqual(["enc-v1/sp ace/", "enc-v1/sp%20ace/a%20b.txt", "enc-v1/sp%20ace/c%20d.txt"]);
    expect(page.Contents.map((c: any) => c.Key)).toEqual(["enc-v1/sp%20ace/c%20d.txt"]);
    const grouped = await listV1(`prefix=enc-v1/&delimiter=/&encoding-type=url`);
    expect([grouped.Prefix, grouped.CommonPrefixes.map((p: any) => p.Prefix)]).toEqual(["enc-v1/", ["enc-v1/sp%20ace/"]]);
  });

  it("pages with marker / NextMarker through every key exactly once", async () => {
    const seen: string[] = [];
    let marker = "";
    for (;;) {
      const page = await listV1(`prefix=${ROOT}&max-keys=45&marker=${encodeURIComponent(marker)}`);
      const keys = (page.Contents ?? []).map((c: any) => c.Key);
      seen.push(...keys);
      if (page.IsTruncated !== "true") break;
      marker = page.NextMarker ?? keys.at(-1);
    }
    expect(seen).toEqual(ALL);
  });

  it("with a delimiter, NextMarker pages past common prefixes without repeating them", async () => {
    const entries: string[] = [];
    let marker = "";
    for (;;) {
      const page = await listV1(`prefix=${ROOT}&delimiter=/&max-keys=2&marker=${encodeURIComponent(marker)}`);
      entries.push(...(page.Contents ?? []).map((c: any) => c.Key), ...(page.CommonPrefixes ?? []).map((p: any) => p.Prefix));
      if (page.IsTruncated !== "true") break;
      expect(page.NextMarker).toBeTruthy();
      marker = page.NextMarker;
    }
    expect(new Set(entries).size).toBe(entries.length);
    expect(entries.filter((e) => e.endsWith("/")).sort()).toEqual([`${ROOT}alpha/`, `${ROOT}beta/`, `${ROOT}builds/`, `${ROOT}gamma/`]);
    expect(entries.length).toBe(4 + 90);
  });

  it("includes the owner and echoes Marker and Prefix", async () => {
    const page = await listV1(`prefix=${ROOT}builds/&marker=${ROOT}builds/app-1.zip`);
    expect(page.Marker).toBe(`${ROOT}builds/app-1.zip`);
    expect(page.Contents.map((c: any) => c.Key)).toEqual([ZIPS[1]]);
    expect(page.Contents[0].Owner.ID).toBeTruthy();
  });
});
