// Object operations over the Worker's fetch handler against real local R2: PUT/GET/HEAD with every header
// behaviour S3 clients rely on, storage types, delta round trips, copy and delete.
import { describe, expect, it } from "vitest";
import { defaultBucketBackend } from "./helpers/remote-s3";
import { bytes, chunkedPut, errorOf, s3, xmlOf } from "./s3-support";

const B = "/default";

async function md5Hex(data: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("MD5", data);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

function put(key: string, body: Uint8Array | string, headers: Record<string, string> = {}) {
  return s3("PUT", `${B}/${key}`, { body, headers });
}

/** A new version of an artifact: mostly the same bytes with a few edits, like consecutive releases. */
function nextVersion(base: Uint8Array, seed: number): Uint8Array {
  const out = base.slice();
  const edits = bytes(64, seed);
  for (let i = 0; i < 16; i++) out.set(edits.subarray(i * 4, i * 4 + 4), (seed * 7919 + i * 65_521) % (out.length - 4));
  return out;
}

describe("the seed walk-through: versioned zips become deltas, other files stay direct", () => {
  it("v1.zip seeds the deltaspace, v2.zip is a delta rebuilt byte-exact, a .png is direct", async () => {
    const v1 = bytes(1 << 20, 11);
    const v2 = nextVersion(v1, 2);
    const first = await put("walk/releases/v1.zip", v1);
    expect(first.status).toBe(200);
    expect(first.headers.get("x-amz-storage-type")).toBe("Reference");
    expect(first.headers.get("etag")).toBe(`"${await md5Hex(v1)}"`);
    const second = await put("walk/releases/v2.zip", v2);
    expect(second.headers.get("x-amz-storage-type")).toBe("Delta");
    expect(second.headers.get("etag")).toBe(`"${await md5Hex(v2)}"`);
    const image = await put("walk/releases/logo.png", bytes(4096, 3));
    expect(image.headers.get("x-amz-storage-type")).toBe("Direct");

    const got = await s3("GET", `${B}/walk/releases/v2.zip`);
    expect(got.status).toBe(200);
    expect(got.headers.get("x-amz-storage-type")).toBe("Delta");
    expect(got.headers.get("content-length")).toBe(String(v2.length));
    expect(new Uint8Array(await got.arrayBuffer())).toEqual(v2);
    const head = await s3("HEAD", `${B}/walk/releases/v2.zip`);
    expect(head.headers.get("x-amz-storage-type")).toBe("Delta");
    expect(head.headers.get("content-length")).toBe(String(v2.length));

    // Inspected on whichever backend holds bucket `default` in this project (R2 or remote S3).
    const delta = await (await defaultBucketBackend()).head("walk/releases/v2.zip.delta");
    expect(delta?.size).toBeLessThan(v2.length / 10);
  });
});

describe("PutObject and GetObject", () => {
  it("keeps x-amz-meta-* and the Content-* headers and returns them on GET and HEAD", async () => {
    const headers = {
      "content-type": "application/zip",
      "content-encoding": "identity",
      "content-disposition": 'attachment; filename="app.zip"',
      "cache-control": "max-age=3600",
      "content-language": "en",
      "x-amz-meta-build": "1234",
      "x-amz-meta-Commit-Sha": "abc",
    };
    expect((await put("meta/app.zip", "payload", headers)).status).toBe(200);
    for (const method of ["GET", "HEAD"]) {
      const response = await s3(method, `${B}/meta/app.zip`);
      expect(response.headers.get("content-type")).toBe("application/zip");
      expect(response.headers.get("content-encoding")).toBe("identity");
      expect(response.headers.get("content-disposition")).toBe('attachment; filename="app.zip"');
      expect(response.headers.get("cache-control")).toBe("max-age=3600");
      expect(response.headers.get("content-language")).toBe("en");
      expect(response.headers.get("x-amz-meta-build")).toBe("1234");
      expect(response.headers.get("x-amz-meta-commit-sha")).toBe("abc");
      expect(response.headers.get("last-modified")).toMatch(/GMT$/);
      expect(response.headers.get("accept-ranges")).toBe("bytes");
    }
  });

  it("aws-chunked is upload framing, not a stored Content-Encoding: alone it is dropped, with gzip only gzip stays", async () => {
    const data = bytes(20_000, 7);
    // Real gzip bytes for the gzip case: the stored bytes are served as they are (encodeBody "manual") and
    // fetch() on the client side decodes them back to `data`.
    const gzipped = new Uint8Array(await new Response(new Blob([data]).stream().pipeThrough(new CompressionStream("gzip"))).arrayBuffer());
    for (const [sent, kept] of [["aws-chunked", null], ["aws-chunked,gzip", "gzip"]] as const) {
      const key = `meta/chunked-${kept ?? "plain"}.bin`;
      const response = await chunkedPut(`${B}/${key}`, kept ? gzipped : data, { contentEncoding: sent });
      expect(response.status).toBe(200);
      for (const method of ["GET", "HEAD"]) {
        const read = await s3(method, `${B}/${key}`);
        expect(read.headers.get("content-encoding")).toBe(kept);
        if (method === "GET") expect(new Uint8Array(await read.arrayBuffer())).toEqual(data);
      }
    }
  });

  it("an object stored without a type is served as binary/octet-stream", async () => {
    await put("meta/untyped.bin", new Uint8Array([1]));
    const response = await s3("HEAD", `${B}/meta/untyped.bin`);
    expect(response.headers.get("content-type")).toBe("binary/octet-stream");
  });

  it("response-* query parameters override the returned headers", async () => {
    await put("meta/override.txt", "hello", { "content-type": "text/plain" });
    const response = await s3("GET", `${B}/meta/override.txt?response-content-type=application/json&response-content-disposition=inline&response-cache-control=no-cache&response-content-language=de&response-expires=Thu,%2001%20Dec%202094%2016:00:00%20GMT&response-content-encoding=identity`);
    expect(response.headers.get("content-type")).toBe("application/json");
    expect(response.headers.get("content-disposition")).toBe("inline");
    expect(response.headers.get("cache-control")).toBe("no-cache");
    expect(response.headers.get("content-language")).toBe("de");
    expect(response.headers.get("expires")).toBe("Thu, 01 Dec 2094 16:00:00 GMT");
    expect(await response.text()).toBe("hello");
  });

  it("GET of a missing key is NoSuchKey with the key in the error", async () => {
    const response = await s3("GET", `${B}/missing/nothing.txt`);
    expect(response.status).toBe(404);
    const error = await errorOf(response);
    expect(error.Code).toBe("NoSuchKey");
    expect(error.Key).toBe("missing/nothing.txt");
    expect(error.Resource).toBe("/default/missing/nothing.txt");
    expect(error.RequestId).toBe(response.headers.get("x-amz-request-id"));
  });

  it("HEAD of a missing key is a bodiless 404", async () => {
    const response = await s3("HEAD", `${B}/missing/nothing.txt`);
    expect(response.status).toBe(404);
    expect(await response.text()).toBe("");
  });

  it("user metadata over 2 KB is MetadataTooLarge and nothing is written", async () => {
    const response = await put("meta/too-large.txt", "x", { "x-amz-meta-big": "v".repeat(2100) });
    expect(response.status).toBe(400);
    expect((await errorOf(response)).Code).toBe("MetadataTooLarge");
    expect((await s3("HEAD", `${B}/meta/too-large.txt`)).status).toBe(404);
  });

  it("a key longer than 1024 bytes is KeyTooLongError", async () => {
    const response = await put(`long/${"k".repeat(1100)}`, "x");
    expect(response.status).toBe(400);
    expect((await errorOf(response)).Code).toBe("KeyTooLongError");
  });

  it("GET and HEAD of a key longer than 1024 bytes answer 400 KeyTooLongError, not a backend failure", async () => {
    const got = await s3("GET", `${B}/long/${"k".repeat(1100)}`);
    expect([got.status, (await errorOf(got)).Code]).toEqual([400, "KeyTooLongError"]);
    const head = await s3("HEAD", `${B}/long/${"k".repeat(1100)}`);
    expect(head.status).toBe(400);
  });

  it("an empty object round-trips", async () => {
    expect((await put("empty/zero.bin", new Uint8Array(0))).status).toBe(200);
    const got = await s3("GET", `${B}/empty/zero.bin`);
    expect(got.status).toBe(200);
    expect(got.headers.get("content-length")).toBe("0");
    expect((await got.arrayBuffer()).byteLength).toBe(0);
  });

  it.each([
    "special/a b+c=d&e?f#g.txt",
    "special/percent%20literal.txt",
    "unicode/日本語/ファイル.zip",
    "unicode/emoji-😀.bin",
    "special/semi;colon,comma'quote\"(paren)[bracket]{brace}!~*$@.txt",
  ])("the key %s round-trips exactly", async (key) => {
    const path = key.split("/").map(encodeURIComponent).join("/");
    expect((await s3("PUT", `${B}/${path}`, { body: key })).status).toBe(200);
    expect(await (await s3("GET", `${B}/${path}`)).text()).toBe(key);
    const listed = await xmlOf(await s3("GET", `${B}?list-type=2&prefix=${encodeURIComponent(key)}`));
    expect(listed.ListBucketResult.Contents.map((c: any) => c.Key)).toEqual([key]);
  });
});

describe("Range requests", () => {
  const data = bytes(10_000, 5);
  const key = "range/data.bin";

  async function ranged(range: string, method = "GET") {
    await put(key, data);
    return s3(method, `${B}/${key}`, { headers: { range } });
  }

  it("bytes=a-b returns 206 with Content-Range and exactly those bytes", async () => {
    const response = await ranged("bytes=100-199");
    expect(response.status).toBe(206);
    expect(response.headers.get("content-range")).toBe("bytes 100-199/10000");
    expect(response.headers.get("content-length")).toBe("100");
    expect(new Uint8Array(await response.arrayBuffer())).toEqual(data.subarray(100, 200));
  });

  it("bytes=a- returns the rest of the object", async () => {
    const response = await ranged("bytes=9990-");
    expect(response.headers.get("content-range")).toBe("bytes 9990-9999/10000");
    expect(new Uint8Array(await response.arrayBuffer())).toEqual(data.subarray(9990));
  });

  it("bytes=-n returns the last n bytes", async () => {
    const response = await ranged("bytes=-10");
    expect(response.headers.get("content-range")).toBe("bytes 9990-9999/10000");
    expect(new Uint8Array(await response.arrayBuffer())).toEqual(data.subarray(9990));
  });

  it("an end beyond the object is clipped to its last byte", async () => {
    const response = await ranged("bytes=9000-20000");
    expect(response.headers.get("content-range")).toBe("bytes 9000-9999/10000");
    expect((await response.arrayBuffer()).byteLength).toBe(1000);
  });

  it("a start beyond the object is 416 InvalidRange", async () => {
    const response = await ranged("bytes=10000-10005");
    expect(response.status).toBe(416);
    expect(response.headers.get("content-range")).toBe("bytes */10000");
    expect((await errorOf(response)).Code).toBe("InvalidRange");
  });

  it("HEAD honours Range like GET", async () => {
    const response = await ranged("bytes=0-9", "HEAD");
    expect(response.status).toBe(206);
    expect(response.headers.get("content-length")).toBe("10");
  });

  it("a range of a delta object is rebuilt exactly", async () => {
    const base = bytes(300_000, 21);
    await put("range-delta/v1.zip", base);
    const v2 = nextVersion(base, 9);
    expect((await put("range-delta/v2.zip", v2)).headers.get("x-amz-storage-type")).toBe("Delta");
    const response = await s3("GET", `${B}/range-delta/v2.zip`, { headers: { range: "bytes=123456-223456" } });
    expect(response.status).toBe(206);
    expect(new Uint8Array(await response.arrayBuffer())).toEqual(v2.subarray(123456, 223457));
  });
});

describe("conditional GET and HEAD", () => {
  const key = "cond/object.txt";

  async function setup(): Promise<{ etag: string; lastModified: string }> {
    const response = await put(key, "conditional body");
    const head = await s3("HEAD", `${B}/${key}`);
    return { etag: response.headers.get("etag")!, lastModified: head.headers.get("last-modified")! };
  }

  it("If-None-Match with the current ETag is 304 Not Modified", async () => {
    const { etag } = await setup();
    const response = await s3("GET", `${B}/${key}`, { headers: { "if-none-match": etag } });
    expect(response.status).toBe(304);
    expect(response.headers.get("etag")).toBe(etag);
  });

  it("If-Match with another ETag is 412 PreconditionFailed", async () => {
    await setup();
    const response = await s3("GET", `${B}/${key}`, { headers: { "if-match": '"0123456789abcdef0123456789abcdef"' } });
    expect(response.status).toBe(412);
    expect((await errorOf(response)).Code).toBe("PreconditionFailed");
  });

  it("If-Match with the current ETag (or *) returns the object", async () => {
    const { etag } = await setup();
    expect((await s3("GET", `${B}/${key}`, { headers: { "if-match": etag } })).status).toBe(200);
    expect((await s3("GET", `${B}/${key}`, { headers: { "if-match": "*" } })).status).toBe(200);
  });

  it("If-Modified-Since at or after Last-Modified is 304; before it is 200", async () => {
    const { lastModified } = await setup();
    expect((await s3("GET", `${B}/${key}`, { headers: { "if-modified-since": lastModified } })).status).toBe(304);
    const earlier = new Date(Date.parse(lastModified) - 3600_000).toUTCString();
    expect((await s3("GET", `${B}/${key}`, { headers: { "if-modified-since": earlier } })).status).toBe(200);
  });

  it("If-Unmodified-Since before Last-Modified is 412", async () => {
    const { lastModified } = await setup();
    const earlier = new Date(Date.parse(lastModified) - 3600_000).toUTCString();
    expect((await s3("HEAD", `${B}/${key}`, { headers: { "if-unmodified-since": earlier } })).status).toBe(412);
    expect((await s3("HEAD", `${B}/${key}`, { headers: { "if-unmodified-since": lastModified } })).status).toBe(200);
  });

  it("If-Match that holds wins over a failing If-Unmodified-Since (as S3 documents)", async () => {
    const { etag, lastModified } = await setup();
    const earlier = new Date(Date.parse(lastModified) - 3600_000).toUTCString();
    const response = await s3("GET", `${B}/${key}`, { headers: { "if-match": etag, "if-unmodified-since": earlier } });
    expect(response.status).toBe(200);
  });

  it("If-None-Match that fails wins over If-Modified-Since (304)", async () => {
    const { etag, lastModified } = await setup();
    const earlier = new Date(Date.parse(lastModified) - 3600_000).toUTCString();
    const response = await s3("GET", `${B}/${key}`, { headers: { "if-none-match": etag, "if-modified-since": earlier } });
    expect(response.status).toBe(304);
  });
});

describe("CopyObject", () => {
  it("copies data and metadata (COPY) across deltaspaces; a delta source is rebuilt", async () => {
    const base = bytes(200_000, 31);
    await put("copy-src/v1.zip", base, { "x-amz-meta-origin": "ci", "content-type": "application/zip" });
    const v2 = nextVersion(base, 4);
    expect((await put("copy-src/v2.zip", v2)).headers.get("x-amz-storage-type")).toBe("Delta");
    const response = await s3("PUT", `${B}/copy-dst/renamed.zip`, { headers: { "x-amz-copy-source": "/default/copy-src/v2.zip" } });
    expect(response.status).toBe(200);
    const result = (await xmlOf(response)).CopyObjectResult;
    expect(result.ETag).toBe(`"${await md5Hex(v2)}"`);
    expect(Date.parse(result.LastModified)).toBeGreaterThan(0);
    const copy = await s3("GET", `${B}/copy-dst/renamed.zip`);
    expect(new Uint8Array(await copy.arrayBuffer())).toEqual(v2);

    await s3("PUT", `${B}/copy-dst/meta.zip`, { headers: { "x-amz-copy-source": "default/copy-src/v1.zip" } });
    const head = await s3("HEAD", `${B}/copy-dst/meta.zip`);
    expect(head.headers.get("x-amz-meta-origin")).toBe("ci");
    expect(head.headers.get("content-type")).toBe("application/zip");
  });

  it("REPLACE takes metadata from the request", async () => {
    await put("copy-meta/a.txt", "data", { "x-amz-meta-old": "1", "content-type": "text/plain" });
    await s3("PUT", `${B}/copy-meta/a.txt`, {
      headers: { "x-amz-copy-source": "/default/copy-meta/a.txt", "x-amz-metadata-directive": "REPLACE", "x-amz-meta-new": "2", "content-type": "text/csv" },
    });
    const head = await s3("HEAD", `${B}/copy-meta/a.txt`);
    expect(head.headers.get("x-amz-meta-old")).toBeNull();
    expect(head.headers.get("x-amz-meta-new")).toBe("2");
    expect(head.headers.get("content-type")).toBe("text/csv");
  });

  it("copying an object onto itself without REPLACE is InvalidRequest", async () => {
    await put("copy-self/a.txt", "data");
    const response = await s3("PUT", `${B}/copy-self/a.txt`, { headers: { "x-amz-copy-source": "/default/copy-self/a.txt" } });
    expect(response.status).toBe(400);
    expect((await errorOf(response)).Code).toBe("InvalidRequest");
  });

  it("copies across buckets", async () => {
    const bucket = `s3t-copy-${crypto.randomUUID().slice(0, 8)}`;
    await s3("PUT", `/${bucket}`);
    await put("copy-x/a.bin", "cross-bucket");
    expect((await s3("PUT", `/${bucket}/b/a.bin`, { headers: { "x-amz-copy-source": "/default/copy-x/a.bin" } })).status).toBe(200);
    expect(await (await s3("GET", `/${bucket}/b/a.bin`)).text()).toBe("cross-bucket");
  });

  it("a missing source is NoSuchKey; a failed x-amz-copy-source-if-match is 412", async () => {
    const missing = await s3("PUT", `${B}/copy-err/x`, { headers: { "x-amz-copy-source": "/default/copy-err/none" } });
    expect((await errorOf(missing)).Code).toBe("NoSuchKey");
    await put("copy-err/src", "s");
    const failed = await s3("PUT", `${B}/copy-err/x`, { headers: { "x-amz-copy-source": "/default/copy-err/src", "x-amz-copy-source-if-match": '"ffff"' } });
    expect(failed.status).toBe(412);
    const bucketMissing = await s3("PUT", `${B}/copy-err/x`, { headers: { "x-amz-copy-source": "/nosuchbucket-xyz/k" } });
    expect((await errorOf(bucketMissing)).Code).toBe("NoSuchBucket");
  });
});

describe("DeleteObject and DeleteObjects", () => {
  it("DeleteObject answers 204, also for a key that does not exist", async () => {
    await put("del/one.txt", "1");
    expect((await s3("DELETE", `${B}/del/one.txt`)).status).toBe(204);
    expect((await s3("HEAD", `${B}/del/one.txt`)).status).toBe(404);
    expect((await s3("DELETE", `${B}/del/never.txt`)).status).toBe(204);
  });

  it("deleting the last object of a deltaspace removes its reference.bin", async () => {
    const base = bytes(100_000, 41);
    await put("del-ref/v1.zip", base);
    await put("del-ref/v2.zip", nextVersion(base, 3));
    const backend = await defaultBucketBackend();
    expect(await backend.head("del-ref/reference.bin")).not.toBeNull();
    await s3("DELETE", `${B}/del-ref/v1.zip`);
    expect(await backend.head("del-ref/reference.bin")).not.toBeNull();
    await s3("DELETE", `${B}/del-ref/v2.zip`);
    expect(await backend.head("del-ref/reference.bin")).toBeNull();
    const left = await backend.list({ prefix: "del-ref/" });
    expect([...left.objects.map((o) => o.key), ...left.commonPrefixes]).toEqual([]);
  });

  it("DeleteObjects removes the listed keys and reports each", async () => {
    await put("multi/a", "a");
    await put("multi/b", "b");
    const body = `<Delete><Object><Key>multi/a</Key></Object><Object><Key>multi/b</Key></Object><Object><Key>multi/none</Key></Object></Delete>`;
    const response = await s3("POST", `${B}?delete`, { body });
    expect(response.status).toBe(200);
    const result = (await xmlOf(response)).DeleteResult;
    expect(result.Deleted.map((d: any) => d.Key).sort()).toEqual(["multi/a", "multi/b", "multi/none"]);
    expect((await s3("HEAD", `${B}/multi/a`)).status).toBe(404);
  });

  it("Quiet mode lists only errors", async () => {
    await put("quiet/a", "a");
    const body = `<?xml version="1.0"?>\n<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/">\n  <Quiet>true</Quiet>\n  <Object>\n    <Key>quiet/a</Key>\n  </Object>\n</Delete>`;
    const result = (await xmlOf(await s3("POST", `${B}?delete`, { body }))).DeleteResult;
    expect(result.Deleted).toBeUndefined();
    expect((await s3("HEAD", `${B}/quiet/a`)).status).toBe(404);
  });

  it("keys with spaces and XML entities are deleted exactly", async () => {
    await put("ent/a%20%26%20b%20.txt", "x");
    const body = `<Delete><Object><Key>ent/a &amp; b .txt</Key></Object></Delete>`;
    const result = (await xmlOf(await s3("POST", `${B}?delete`, { body }))).DeleteResult;
    expect(result.Deleted[0].Key).toBe("ent/a & b .txt");
    expect((await s3("HEAD", `${B}/ent/a%20%26%20b%20.txt`)).status).toBe(404);
  });

  it("keys written as numeric character references (&#x41; &#38;) are the keys they name", async () => {
    await put("ref/A%26B.txt", "x");
    const body = `<Delete><Object><Key>ref/&#x41;&#38;&#66;.txt</Key></Object></Delete>`;
    const result = (await xmlOf(await s3("POST", `${B}?delete`, { body }))).DeleteResult;
    expect(result.Deleted[0].Key).toBe("ref/A&B.txt");
    expect((await s3("HEAD", `${B}/ref/A%26B.txt`)).status).toBe(404);
  });

  it("a body that declares entities, names an unknown one, or nests past the parser's depth is MalformedXML (400)", async () => {
    const laugh = `<!DOCTYPE Delete [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>`;
    const bodies = [
      `${laugh}<Delete><Object><Key>&b;</Key></Object></Delete>`,
      `<Delete><Object><Key>&nbsp;</Key></Object></Delete>`,
      `<Delete><Object><Key>&#0;</Key></Object></Delete>`,
      `<Delete>${"<Object>".repeat(150)}${"</Object>".repeat(150)}</Delete>`,
    ];
    for (const body of bodies) {
      const response = await s3("POST", `${B}?delete`, { body });
      expect([response.status, (await errorOf(response)).Code]).toEqual([400, "MalformedXML"]);
    }
  });

  it("more than 1000 keys, or bad XML, is MalformedXML", async () => {
    const many = `<Delete>${Array.from({ length: 1001 }, (_, i) => `<Object><Key>k${i}</Key></Object>`).join("")}</Delete>`;
    expect((await errorOf(await s3("POST", `${B}?delete`, { body: many }))).Code).toBe("MalformedXML");
    expect((await errorOf(await s3("POST", `${B}?delete`, { body: "<Delete><Object>" }))).Code).toBe("MalformedXML");
    expect((await errorOf(await s3("POST", `${B}?delete`, { body: "<Delete></Delete>" }))).Code).toBe("MalformedXML");
  });
});
