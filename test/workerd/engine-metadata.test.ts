// dg-* metadata: classification and every legacy alias DeltaGlider versions wrote; sidecar round-trip.
import { describe, expect, it } from "vitest";
import { compareKeys, isEligibleName, parseKey, reservedReason } from "../../src/engine/deltaspace";
import { resolveEngineConfig } from "../../src/engine/config";
import {
  decodeMetadata, decodePartSizes, decodeSidecar, encodeMetadata, encodePartSizes, encodeSidecar, MAX_PART_SIZES_LENGTH, parseCreatedAt, type DgRecord,
} from "../../src/engine/metadata";

const sha = "ab".repeat(32);

describe("reading DeltaGlider metadata", () => {
  it("classifies reference / delta / passthrough as the format doc says", () => {
    const base = { "dg-tool": "t", "dg-original-name": "a.zip", "dg-file-sha256": sha };
    expect(decodeMetadata({ ...base, "dg-note": "reference" })?.kind).toBe("reference");
    expect(decodeMetadata({ ...base, "dg-note": "delta" })?.kind).toBe("delta");
    expect(decodeMetadata({ ...base, "dg-ref-path": "reference.bin" })?.kind).toBe("delta");
    expect(decodeMetadata({ ...base, "dg-ref-key": "x/reference.bin" })?.kind).toBe("delta");
    expect(decodeMetadata({ ...base, "dg-note": "zero-diff (reference identical)" })?.kind).toBe("delta");
    expect(decodeMetadata({ ...base, "dg-note": "passthrough" })?.kind).toBe("passthrough");
    expect(decodeMetadata({ ...base, "dg-compression": "none" })?.kind).toBe("passthrough");
    expect(decodeMetadata({ ...base, "dg-note": "direct" })?.kind).toBe("passthrough"); // seed name
  });

  it("without tool, name or SHA-256 an object is unmanaged (null)", () => {
    expect(decodeMetadata({})).toBeNull();
    expect(decodeMetadata({ "dg-tool": "t", "dg-original-name": "a" })).toBeNull();
    expect(decodeMetadata({ "dg-tool": "t", "dg-file-sha256": sha })).toBeNull();
    expect(decodeMetadata({ "dg-original-name": "a", "dg-file-sha256": "" , "dg-tool": "t"})).toBeNull();
  });

  it("accepts the legacy aliases: bare, underscored (Python < 6), source-name as name fallback, ref-key forms", () => {
    const python5 = decodeMetadata({ tool: "deltaglider/5.0", original_name: "v.zip", file_sha256: sha.toUpperCase(), file_size: "12", ref_key: "p/reference.bin", ref_sha256: sha, delta_size: "3" });
    expect(python5).toMatchObject({ kind: "delta", originalName: "v.zip", sha256: sha, size: 12, refKey: "p/reference.bin", refSha256: sha, deltaSize: 3 });
    expect(decodeMetadata({ "dg-tool": "t", "dg-source-name": "seed.zip", "dg-file-sha256": sha, "dg-note": "reference" })).toMatchObject({ originalName: "seed.zip", kind: "reference", size: undefined });
    expect(decodeMetadata({ "dg-tool": "t", "source-name": "s", "dg-file-sha256": sha, "ref-path": "reference.bin" })?.kind).toBe("delta");
    expect(decodeMetadata({ "DG-Tool": "t", "DG-Original-Name": "n", "DG-File-SHA256": sha })?.originalName).toBe("n");
  });

  it("reads the multipart ETag unquoted, user-* as user metadata, content-type and checksums", () => {
    const record = decodeMetadata({ "dg-tool": "t", "dg-original-name": "n", "dg-file-sha256": sha, "dg-multipart-etag": '"abc-3"', "user-owner": "me", "content-type": "text/plain", "dg-checksum-crc32": "AAAAAA==" });
    expect(record).toMatchObject({ multipartEtag: "abc-3", userMetadata: { owner: "me" }, http: { contentType: "text/plain" }, checksums: { crc32: "AAAAAA==" } });
  });

  it("parses the proxy's microsecond timestamps and Python's naive isoformat", () => {
    expect(parseCreatedAt("2026-08-01T10:02:00.123456Z")?.toISOString()).toBe("2026-08-01T10:02:00.123Z");
    expect(parseCreatedAt("2025-10-15T12:34:56.5")?.toISOString()).toBe("2025-10-15T12:34:56.500Z");
    expect(parseCreatedAt("2025-10-15T12:34:56Z")?.toISOString()).toBe("2025-10-15T12:34:56.000Z");
    expect(parseCreatedAt("2025-10-15T12:34:56+02:00")?.toISOString()).toBe("2025-10-15T10:34:56.000Z");
    expect(parseCreatedAt("yesterday")).toBeUndefined();
  });
});

describe("writing", () => {
  const record: DgRecord = {
    kind: "delta", tool: "deltaglider_worker/0.1.0", originalName: "v2.zip", sha256: sha, size: 100, md5: "cd".repeat(16),
    createdAt: new Date("2026-01-01T00:00:00.000Z"), refKey: "r/reference.bin", refSha256: sha, deltaSize: 7,
    deltaCmd: "xdelta3 -e -9 -s reference.bin v2.zip v2.zip.delta", http: { contentType: "application/zip", contentDisposition: "attachment" },
    userMetadata: { k: "v" }, checksums: { sha256: "x" }, multipartEtag: "ef-2",
  };

  it("metadata round-trips through encode/decode", () => {
    const meta = encodeMetadata(record);
    expect(meta["dg-created-at"]).toBe("2026-01-01T00:00:00.000000Z");
    expect(meta["dg-multipart-etag"]).toBe('"ef-2"');
    expect(meta["dg-ref-path"]).toBe("reference.bin");
    expect(meta["dg-ref-key"]).toBe("r/reference.bin");
    // Readers prefer the relative dg-ref-path (the reference is always in the object's own deltaspace).
    expect(decodeMetadata(meta)).toMatchObject({ ...record, note: "delta", refKey: "reference.bin" });
  });

  it("the sidecar carries the seed's fields and rebuilds the same record", () => {
    const json = JSON.parse(encodeSidecar(record));
    expect(Object.keys(json).slice(0, 8)).toEqual(["tool", "original_name", "file_sha256", "file_size", "md5", "created_at", "content_type", "note"]);
    expect(json).toMatchObject({ ref_key: "r/reference.bin", ref_sha256: sha, delta_size: 7, delta_cmd: record.deltaCmd });
    expect(decodeSidecar(encodeSidecar(record))).toMatchObject({ ...record, refKey: "reference.bin", note: "delta" });
    expect(decodeSidecar("not json")).toBeNull();
    expect(decodeSidecar("[1]")).toBeNull();
  });
});

describe("multipart part sizes (dg-part-sizes)", () => {
  it("round-trip as runs of equal sizes, in metadata and in the sidecar", () => {
    const sizes = [...Array(12).fill(8 * 1024 * 1024), 1_048_576];
    expect(encodePartSizes(sizes)).toBe("8388608x12,1048576x1");
    expect(decodePartSizes("8388608x12,1048576x1")).toEqual(sizes);
    const record: DgRecord = {
      kind: "passthrough", tool: "t", originalName: "a.bin", sha256: sha, size: 12 * 8 * 1024 * 1024 + 1_048_576,
      multipartEtag: "x-13", partSizes: sizes, http: {}, userMetadata: {}, checksums: {},
    };
    expect(encodeMetadata(record)["dg-part-sizes"]).toBe("8388608x12,1048576x1");
    expect(decodeMetadata(encodeMetadata(record))?.partSizes).toEqual(sizes);
    expect(decodeSidecar(encodeSidecar(record))?.partSizes).toEqual(sizes);
  });

  it("are not recorded when too varied to fit, and a malformed value is not trusted", () => {
    const varied = Array.from({ length: 100 }, (_, i) => 5 * 1024 * 1024 + i);
    expect(encodePartSizes(varied)).toBeUndefined();
    expect(encodePartSizes(varied.slice(0, 10))!.length).toBeLessThanOrEqual(MAX_PART_SIZES_LENGTH);
    for (const bad of ["", "5x", "x3", "5x0", "5x3,", "-5x1", "5x20000"]) expect(decodePartSizes(bad)).toBeUndefined();
  });
});

describe("keys and config", () => {
  it("splits keys at the last slash into deltaspace and name", () => {
    expect(parseKey("a/b/c.zip")).toEqual({ key: "a/b/c.zip", deltaspace: "a/b", name: "c.zip" });
    expect(parseKey("c.zip")).toEqual({ key: "c.zip", deltaspace: "", name: "c.zip" });
    expect(parseKey("dir/")).toEqual({ key: "dir/", deltaspace: "dir", name: "" });
  });

  it("reserves internal names and matches eligible extensions case-insensitively", () => {
    expect(reservedReason("a/reference.bin")).toBeTruthy();
    expect(reservedReason("a/x.delta")).toBeTruthy();
    expect(reservedReason("a/x.zip.meta")).toBeTruthy();
    expect(reservedReason(".dg/mpu/x")).toBeTruthy();
    // A deltaspace's own `.dg/` folder is internal (earlier versions kept the inflated reference of compressed-aware deltas there).
    expect(reservedReason("a/.dg/x")).toBeTruthy();
    expect(reservedReason("a/.dgx/y")).toBeNull();
    expect(reservedReason("a/x.dg/y")).toBeNull();
    expect(reservedReason("a/reference.bin.txt")).toBeNull();
    expect(isEligibleName("X.ZIP", ["zip"])).toBe(true);
    expect(isEligibleName("a.tar.gz", ["zip", "tar"])).toBe(false);
    expect(isEligibleName(".zip", ["zip"])).toBe(false);
  });

  it("compares keys in UTF-8 byte order, not UTF-16", () => {
    expect(compareKeys("\u{1F680}", "\uFFFD")).toBeGreaterThan(0); // JS "<" says the opposite
    expect(compareKeys("a", "ab")).toBeLessThan(0);
    expect(compareKeys("b", "b")).toBe(0);
  });

  it("config defaults follow the issue and bad values name the field", () => {
    const config = resolveEngineConfig();
    expect(config.maxDeltaRatio).toBe(0.75);
    const deltaglider = ["zip", "tar", "jar", "war", "ear", "dmg", "iso", "sql", "dump", "bak", "backup"];
    // Compressed-aware deltas on (default): the compressed artifact types join DeltaGlider's list; off: its list.
    expect(config.compressedDeltas).toBe(true);
    expect(config.deltaExtensions).toEqual([...deltaglider, "tgz", "gz", "whl", "nupkg", "crate"]);
    expect(resolveEngineConfig({ compressedDeltas: true }).deltaExtensions).toEqual([...deltaglider, "tgz", "gz", "whl", "nupkg", "crate"]);
    expect(resolveEngineConfig({ compressedDeltas: false }).deltaExtensions).toEqual(deltaglider);
    expect(resolveEngineConfig({ compressedDeltas: false, deltaExtensions: ["tgz"] }).deltaExtensions).toEqual(["tgz"]);
    expect(resolveEngineConfig({ deltaExtensions: [".ZIP", " tar "] }).deltaExtensions).toEqual(["zip", "tar"]);
    expect(() => resolveEngineConfig({ maxDeltaRatio: 0 })).toThrow(/maxDeltaRatio/);
    expect(() => resolveEngineConfig({ bodyBufferLimit: -1 })).toThrow(/bodyBufferLimit/);
  });
});
