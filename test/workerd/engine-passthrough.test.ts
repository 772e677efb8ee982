// Objects that are not delta candidates: layout, metadata, sidecars, reserved keys, unmanaged objects,
// the staged path for large bodies.
import { describe, expect, it } from "vitest";
import { S3Error } from "../../src/errors";
import {
  backend, bodyStream, bucket, bytesOf, engineWith, generatedStream, md5Hex, pseudoRandom, readAll, sha256Hex, storedKeys,
} from "./engine-helpers";

describe("passthrough objects", () => {
  it("a .png is stored at its own key with the DeltaGlider superset metadata and a .meta sidecar", async () => {
    const engine = engineWith();
    const bytes = pseudoRandom(5000, 3);
    const result = await engine.put("pt1/img/logo.png", {
      body: bytes, size: bytes.length,
      http: { contentType: "image/png", cacheControl: "max-age=60" },
      userMetadata: { Owner: "alice" },
    });
    expect(result).toEqual({ etag: await md5Hex(bytes), storageType: "passthrough", storedSize: 5000, size: 5000, passthroughReason: "ineligible" });
    expect(await storedKeys("pt1/")).toEqual(["pt1/img/logo.png", "pt1/img/logo.png.meta"]);

    const head = (await bucket.head("pt1/img/logo.png"))!;
    expect(head.httpMetadata?.contentType).toBe("application/octet-stream");
    const meta = head.customMetadata!;
    expect(meta["dg-tool"]).toMatch(/^deltaglider_worker\//);
    expect(meta).toMatchObject({
      "dg-original-name": "logo.png",
      "dg-file-sha256": await sha256Hex(bytes),
      "dg-file-size": "5000",
      "dg-md5": await md5Hex(bytes),
      "dg-note": "passthrough",
      "dg-compression": "none",
      "content-type": "image/png",
      "cache-control": "max-age=60",
      "user-owner": "alice",
    });
    expect(meta["dg-created-at"]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    expect(meta["dg-ref-path"]).toBeUndefined();

    const sidecar = JSON.parse(await (await bucket.get("pt1/img/logo.png.meta"))!.text());
    expect(sidecar).toMatchObject({
      tool: meta["dg-tool"], original_name: "logo.png", file_sha256: meta["dg-file-sha256"], file_size: 5000,
      md5: meta["dg-md5"], created_at: meta["dg-created-at"], content_type: "image/png", note: "passthrough",
    });

    const opened = (await engine.open("pt1/img/logo.png"))!;
    expect(opened.info).toMatchObject({
      key: "pt1/img/logo.png", size: 5000, etag: await md5Hex(bytes), storageType: "passthrough", storedSize: 5000,
      http: { contentType: "image/png", cacheControl: "max-age=60" }, userMetadata: { owner: "alice" },
      sha256: await sha256Hex(bytes),
    });
    expect(opened.info.lastModified.toISOString()).toBe(meta["dg-created-at"].replace(/\d{3}Z$/, "Z"));
    expect(await bytesOf(await opened.read())).toEqual(bytes);
    expect(await bytesOf(await opened.read({ start: 100, end: 199 }))).toEqual(bytes.slice(100, 200));
  });

  it("with compression off, an eligible .zip is stored passthrough and no reference is made", async () => {
    const engine = engineWith({ compression: false });
    const bytes = pseudoRandom(3000, 4);
    const result = await engine.put("pt2/a.zip", { body: bodyStream(bytes, 1000), size: bytes.length });
    expect(result.storageType).toBe("passthrough");
    expect(await storedKeys("pt2/")).toEqual(["pt2/a.zip", "pt2/a.zip.meta"]);
    expect(await readAll(engine, "pt2/a.zip")).toEqual(bytes);
  });

  it("sidecars can be switched off for buckets shared with DeltaGlider tools", async () => {
    const engine = engineWith({ sidecars: false });
    await engine.put("pt3/a.txt", { body: new Uint8Array([1, 2, 3]), size: 3 });
    expect(await storedKeys("pt3/")).toEqual(["pt3/a.txt"]);
  });

  it("overwriting a key replaces its bytes and metadata", async () => {
    const engine = engineWith();
    await engine.put("pt4/f.txt", { body: new TextEncoder().encode("one"), size: 3, userMetadata: { v: "1" } });
    await engine.put("pt4/f.txt", { body: new TextEncoder().encode("second"), size: 6, userMetadata: { v: "2" } });
    const opened = (await engine.open("pt4/f.txt"))!;
    expect(opened.info.size).toBe(6);
    expect(opened.info.userMetadata).toEqual({ v: "2" });
    expect(new TextDecoder().decode(await bytesOf(await opened.read()))).toBe("second");
  });

  it("a body shorter than its declared size is refused with IncompleteBody and stores nothing", async () => {
    const engine = engineWith();
    await expect(engine.put("pt5/short.bin", { body: bodyStream(new Uint8Array(10)), size: 20 })).rejects.toMatchObject({ code: "IncompleteBody" });
    expect(await storedKeys("pt5/")).toEqual([]);
  });

  it("user metadata over 2 KB is refused with MetadataTooLarge", async () => {
    const engine = engineWith();
    await expect(engine.put("pt6/m.txt", { body: new Uint8Array(1), size: 1, userMetadata: { big: "x".repeat(2100) } }))
      .rejects.toMatchObject({ code: "MetadataTooLarge" });
  });

  it("keys with special characters and unicode round-trip", async () => {
    const engine = engineWith();
    const keys = ["pt7/ünïcødé/файл 1.txt", "pt7/sp ace/+plus&amp=eq?q#h.txt", "pt7/emoji/🚀.bin", "pt7/dir/"];
    for (const [i, key] of keys.entries()) {
      const bytes = pseudoRandom(100 + i, 10 + i);
      await engine.put(key, { body: bytes, size: bytes.length });
      expect(await readAll(engine, key)).toEqual(bytes);
    }
    const listed = await engine.list({ prefix: "pt7/", maxKeys: 1000 });
    expect(listed.objects.map((o) => o.key)).toEqual([...keys].sort((a, b) => (a < b ? -1 : 1)));
  });
});

describe("reserved keys never clobber internal data", () => {
  for (const key of ["rs/reference.bin", "rs/v1.zip.delta", "rs/v1.zip.meta", ".dg/tmp/x", "reference.bin", "x.delta"]) {
    it(`PUT ${JSON.stringify(key)} is refused with InvalidArgument`, async () => {
      const engine = engineWith();
      const error = await engine.put(key, { body: new Uint8Array(1), size: 1 }).catch((e) => e);
      expect(error).toBeInstanceOf(S3Error);
      expect(error).toMatchObject({ code: "InvalidArgument", status: 400 });
      expect(await bucket.head(key)).toBeNull();
    });
  }

  it("DELETE of reference.bin is refused and GET of it is NoSuchKey (null)", async () => {
    const engine = engineWith();
    await bucket.put("rs2/reference.bin", "internal");
    await expect(engine.delete("rs2/reference.bin")).rejects.toMatchObject({ code: "InvalidArgument" });
    expect(await engine.open("rs2/reference.bin")).toBeNull();
    expect(await engine.open("rs2/x.delta")).toBeNull();
    expect(await bucket.head("rs2/reference.bin")).not.toBeNull();
  });
});

describe("objects written by other tools", () => {
  it("an object without dg-* metadata is served as a plain object with its backend ETag", async () => {
    const engine = engineWith();
    const stored = (await bucket.put("ot1/plain.zip", "hello world", { httpMetadata: { contentType: "text/plain" }, customMetadata: { color: "blue" } }))!;
    const opened = (await engine.open("ot1/plain.zip"))!;
    expect(opened.info).toMatchObject({ size: 11, etag: stored.etag, storageType: "passthrough", http: { contentType: "text/plain" }, userMetadata: { color: "blue" } });
    expect(new TextDecoder().decode(await bytesOf(await opened.read()))).toBe("hello world");
    const listed = await engine.list({ prefix: "ot1/", maxKeys: 10 });
    expect(listed.objects).toMatchObject([{ key: "ot1/plain.zip", size: 11, etag: stored.etag }]);
  });

  it("a Python-CLI direct upload (dg-compression=none, no dg-md5) is served with its sha256 and backend ETag", async () => {
    const engine = engineWith();
    const bytes = pseudoRandom(777, 5);
    const stored = (await bucket.put("ot2/logo.png", bytes, {
      customMetadata: {
        "dg-tool": "deltaglider/6.1.2", "dg-original-name": "logo.png", "dg-file-sha256": await sha256Hex(bytes),
        "dg-file-size": "777", "dg-created-at": "2025-10-20T08:09:10.123456Z", "dg-compression": "none",
      },
    }))!;
    const opened = (await engine.open("ot2/logo.png"))!;
    expect(opened.info).toMatchObject({ size: 777, etag: stored.etag, sha256: await sha256Hex(bytes), storageType: "passthrough" });
    expect(opened.info.lastModified.toISOString()).toBe("2025-10-20T08:09:10.123Z");
  });

  it("when object metadata was stripped (copied by a tool that drops it), the .meta sidecar is used", async () => {
    const engine = engineWith();
    const bytes = pseudoRandom(900, 6);
    await engine.put("ot3/a.txt", { body: bytes, size: bytes.length, http: { contentType: "text/x-a" }, userMetadata: { k: "v" } });
    const original = (await engine.open("ot3/a.txt"))!.info;
    await bucket.put("ot3/a.txt", bytes); // same bytes, metadata gone
    const opened = (await engine.open("ot3/a.txt"))!;
    expect(opened.info).toMatchObject({ etag: original.etag, sha256: original.sha256, http: { contentType: "text/x-a" }, userMetadata: { k: "v" } });
    expect(opened.info.lastModified).toEqual(original.lastModified);
    const listed = await engine.list({ prefix: "ot3/", maxKeys: 10 });
    expect(listed.objects).toMatchObject([{ key: "ot3/a.txt", etag: original.etag, size: 900 }]);
  });

  it("a stale sidecar that does not match the object's size is ignored", async () => {
    const engine = engineWith();
    await engine.put("ot4/a.txt", { body: new Uint8Array(50), size: 50 });
    await bucket.put("ot4/a.txt", "different"); // other tool overwrote, sidecar now stale
    const opened = (await engine.open("ot4/a.txt"))!;
    expect(opened.info.size).toBe(9);
    expect(opened.info.sha256).toBeUndefined();
  });
});

describe("delete", () => {
  it("removes the object and its sidecar; deleting a missing key is fine", async () => {
    const engine = engineWith();
    await engine.put("dl1/a.txt", { body: new Uint8Array(5), size: 5 });
    await engine.delete("dl1/a.txt");
    await engine.delete("dl1/never.txt");
    expect(await storedKeys("dl1/")).toEqual([]);
    expect(await engine.open("dl1/a.txt")).toBeNull();
  });

  it("deleteMany reports reserved keys per key and deletes the rest", async () => {
    const engine = engineWith();
    await engine.put("dl2/a.txt", { body: new Uint8Array(5), size: 5 });
    await engine.put("dl2/b.txt", { body: new Uint8Array(5), size: 5 });
    const outcomes = await engine.deleteMany(["dl2/a.txt", "dl2/reference.bin", "dl2/b.txt"]);
    expect(outcomes).toEqual([
      { key: "dl2/a.txt" },
      { key: "dl2/reference.bin", error: { code: "InvalidArgument", message: expect.any(String) } },
      { key: "dl2/b.txt" },
    ]);
    expect(await storedKeys("dl2/")).toEqual([]);
  });
});

describe("large bodies take the staged path", () => {
  it("a 30 MB passthrough upload streams through a staged copy, is byte-exact, and leaves no staging behind", async () => {
    const engine = engineWith({ bodyBufferLimit: 8 * 1024 * 1024 });
    const size = 30 * 1024 * 1024;
    const expectedSha = await sha256Hex(await bytesOf(generatedStream(size, 21)));
    const result = await engine.put("lg1/big.bin", { body: generatedStream(size, 21), size });
    expect(result).toMatchObject({ storageType: "passthrough", size, storedSize: size });
    const head = (await bucket.head("lg1/big.bin"))!;
    expect(head.customMetadata!["dg-file-sha256"]).toBe(expectedSha);
    expect(head.customMetadata!["dg-md5"]).toBe(result.etag);
    expect(await sha256Hex(await readAll(engine, "lg1/big.bin"))).toBe(expectedSha);
    expect(await storedKeys(".dg/")).toEqual([]);
  });

  it("a large body shorter than declared is IncompleteBody and leaves nothing behind", async () => {
    const engine = engineWith({ bodyBufferLimit: 1024 * 1024 });
    const error = await engine.put("lg2/short.bin", { body: generatedStream(3 * 1024 * 1024, 2), size: 4 * 1024 * 1024 }).catch((e) => e);
    expect(error).toMatchObject({ code: "IncompleteBody" });
    expect(await storedKeys("lg2/")).toEqual([]);
    expect(await storedKeys(".dg/")).toEqual([]);
  });

  it("a re-readable source (completed multipart) is used without staging", async () => {
    const engine = engineWith({ bodyBufferLimit: 1024 });
    const bytes = pseudoRandom(50_000, 8);
    let streams = 0;
    const source = {
      size: bytes.length,
      stream: () => { streams++; return bodyStream(bytes, 4096); },
      read: async (offset: number, length: number) => bytes.slice(offset, offset + length),
    };
    const result = await engine.put("lg3/part.bin", { body: bodyStream(bytes), size: bytes.length, source, multipartEtag: "0123456789abcdef0123456789abcdef-2" });
    expect(result.etag).toBe("0123456789abcdef0123456789abcdef-2");
    expect(streams).toBe(2); // one hashing pass, one write
    expect(await readAll(engine, "lg3/part.bin")).toEqual(bytes);
    expect((await engine.open("lg3/part.bin"))!.info.etag).toBe("0123456789abcdef0123456789abcdef-2");
    expect((await bucket.head("lg3/part.bin"))!.customMetadata!["dg-multipart-etag"]).toBe('"0123456789abcdef0123456789abcdef-2"');
  });
});

describe("staging leftovers", () => {
  it("sweepStaging removes old .dg/tmp objects (an isolate died mid-PUT) and keeps fresh ones", async () => {
    const engine = engineWith();
    await bucket.put(".dg/tmp/old-upload", "x");
    await bucket.put(".dg/tmp/old-upload.delta.0", "y");
    await bucket.put(".dg/mpu/not-ours", "z");
    expect(await engine.sweepStaging(60_000)).toBe(0); // just written: not stale yet
    expect(await engine.sweepStaging(60_000, Date.now() + 120_000)).toBe(2);
    expect(await storedKeys(".dg/")).toEqual([".dg/mpu/not-ours"]);
    await bucket.delete(".dg/mpu/not-ours");
  });
});

void backend;
