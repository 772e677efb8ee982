// Compressed-aware deltas of gzip artifacts (.tgz), through the S3 API against real local R2: the second
// version of a tarball is stored as a delta of its inflated content, against the inflated form of reference.bin
// made on demand (nothing stored for it), and rebuilt byte-exact; an inflated reference an earlier version
// stored is collected with reference.bin.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import * as zlib from "node:zlib";
import { npmGzip, packageFiles, tarOf } from "./helpers/artifacts";
import { ByteQueue, readHeader } from "../../src/engine/containers";
import { asStoredFormLayout, referenceFormSource } from "./helpers/reference-form";
import { workerCodec } from "../../src/wiring";
import { s3 as s3Default, s3Compressed as s3, s3DeltaGliderReadable, xmlOf } from "./s3-support";

const B = "/default";
const bucket = env.BUCKET;

function put(key: string, body: Uint8Array) {
  return s3("PUT", `${B}/${key}`, { body });
}

async function get(key: string, headers: Record<string, string> = {}): Promise<Response> {
  return s3("GET", `${B}/${key}`, { headers });
}

async function stored(prefix: string): Promise<string[]> {
  return (await bucket.list({ prefix })).objects.map((o) => o.key).sort();
}

/** The deflater ids the recipes of a stored compressed-aware delta name (its inflated form's header). */
async function recipeDeflaters(deltaKey: string, deltaspace: string): Promise<string[]> {
  const source = await referenceFormSource(bucket, deltaspace);
  const delta = new Uint8Array(await (await bucket.get(deltaKey))!.arrayBuffer());
  const queue = new ByteQueue(workerCodec.decode(source, new Blob([delta]).stream(), {}).getReader());
  // Only the header is read: the decode job is cancelled after it, so it gives its codec slot back.
  const { segments } = await readHeader(queue).finally(() => queue.cancel());
  return [...new Set(segments.flatMap((s) => (s.kind === "deflate" && s.recipe ? [s.recipe.deflater] : [])))];
}

function versions(count: number): Uint8Array[] {
  return Array.from({ length: count }, (_, minor) => npmGzip(tarOf(packageFiles(minor))));
}

describe("a .tgz after the first is a compressed-aware delta", () => {
  it("stores v2 small, reads it back byte-exact, HEAD and LIST show the original", async () => {
    const [v1, v2] = versions(2);
    expect((await put("tgz/app/app-1.0.0.tgz", v1)).headers.get("x-amz-storage-type")).toBe("Reference");
    const second = await put("tgz/app/app-1.1.0.tgz", v2);
    expect(second.status).toBe(200);
    expect(second.headers.get("x-amz-storage-type")).toBe("Delta");

    const delta = await bucket.head("tgz/app/app-1.1.0.tgz.delta");
    expect(delta?.customMetadata?.["dg-recompress"]).toBe("v2");
    // Its recipe names a shipped, pinned deflater (docs/STORAGE_FORMAT.md "Deflaters"), not the runtime's zlib.
    expect(await recipeDeflaters("tgz/app/app-1.1.0.tgz.delta", "tgz/app")).toEqual(["zlib-chromium-1.3.0.1-motley"]);
    // A plain delta of one gzip against another is ~90 % of it; of the inflated content, a few hundred bytes.
    expect(delta!.size).toBeLessThan(v2.length / 20);

    const got = await get("tgz/app/app-1.1.0.tgz");
    expect(got.status).toBe(200);
    expect(new Uint8Array(await got.arrayBuffer())).toEqual(v2);
    const head = await s3("HEAD", `${B}/tgz/app/app-1.1.0.tgz`);
    expect(head.headers.get("content-length")).toBe(String(v2.length));

    const ranged = await get("tgz/app/app-1.1.0.tgz", { range: "bytes=100-199" });
    expect(ranged.status).toBe(206);
    expect(new Uint8Array(await ranged.arrayBuffer())).toEqual(v2.subarray(100, 200));

    // Nothing is stored for the reference's inflated form: the delta records what a GET needs of it.
    expect(delta?.customMetadata?.["dg-ref-inflated-from"]).toBe((await bucket.head("tgz/app/reference.bin"))?.customMetadata?.["dg-file-sha256"]);
    const form = await referenceFormSource(bucket, "tgz/app");
    expect(delta?.customMetadata?.["dg-ref-inflated-size"]).toBe(String(form.size));
    expect(await stored("tgz/app/")).toEqual([
      "tgz/app/app-1.0.0.tgz.delta", "tgz/app/app-1.0.0.tgz.delta.meta",
      "tgz/app/app-1.1.0.tgz.delta", "tgz/app/app-1.1.0.tgz.delta.meta",
      "tgz/app/reference.bin", "tgz/app/reference.bin.meta",
    ]);
    for (const delimiter of ["", "/"]) {
      const listing = await xmlOf(await s3("GET", `${B}?list-type=2&prefix=tgz/app/${delimiter ? "&delimiter=/" : ""}`));
      expect((listing.ListBucketResult.Contents ?? []).map((c: { Key: string }) => c.Key)).toEqual(["tgz/app/app-1.0.0.tgz", "tgz/app/app-1.1.0.tgz"]);
      expect(listing.ListBucketResult.CommonPrefixes ?? []).toEqual([]);
    }
  });

  it("deleting the deltaspace's objects collects reference.bin and an inflated reference an earlier version stored", async () => {
    const [v1, v2] = versions(2);
    await put("tgz-gc/app-1.tgz", v1);
    expect((await put("tgz-gc/app-2.tgz", v2)).headers.get("x-amz-storage-type")).toBe("Delta");
    expect(await stored("tgz-gc/.dg/")).toEqual([]);
    await asStoredFormLayout(bucket, "tgz-gc", ["tgz-gc/app-2.tgz.delta"]);
    expect(await stored("tgz-gc/.dg/")).toEqual(["tgz-gc/.dg/reference.inflated.bin"]);
    expect((await s3("DELETE", `${B}/tgz-gc/app-1.tgz`)).status).toBe(204);
    expect((await s3("DELETE", `${B}/tgz-gc/app-2.tgz`)).status).toBe(204);
    expect(await stored("tgz-gc/")).toEqual([]);
  });

  it("is on by default: with the Worker's own settings a second .tgz is a compressed-aware delta", async () => {
    const [v1, v2] = versions(2);
    expect((await s3Default("PUT", `${B}/tgz-default/app-1.tgz`, { body: v1 })).headers.get("x-amz-storage-type")).toBe("Reference");
    expect((await s3Default("PUT", `${B}/tgz-default/app-2.tgz`, { body: v2 })).headers.get("x-amz-storage-type")).toBe("Delta");
    expect((await bucket.head("tgz-default/app-2.tgz.delta"))?.customMetadata?.["dg-recompress"]).toBe("v2");
    expect(new Uint8Array(await (await s3Default("GET", `${B}/tgz-default/app-2.tgz`)).arrayBuffer())).toEqual(v2);
  });

  it("DG_COMPRESSED_DELTAS=false keeps the bucket DeltaGlider-readable: a .tgz is not even eligible (DeltaGlider's list)", async () => {
    const [v1, v2] = versions(2);
    for (const [key, body] of [["tgz-off/app-1.tgz", v1], ["tgz-off/app-2.tgz", v2]] as const) {
      const response = await s3DeltaGliderReadable("PUT", `${B}/${key}`, { body });
      expect(response.status).toBe(200);
      expect(response.headers.get("x-amz-storage-type")).toBe("Direct");
    }
    expect(await stored("tgz-off/")).toEqual(["tgz-off/app-1.tgz", "tgz-off/app-1.tgz.meta", "tgz-off/app-2.tgz", "tgz-off/app-2.tgz.meta"]);
  });

  it("refuses user keys inside a .dg/ folder (they would clobber the inflated reference)", async () => {
    const response = await put("tgz-x/.dg/reference.inflated.bin", new Uint8Array([1, 2, 3]));
    expect(response.status).toBe(400);
  });

  it("a gzip no recipe reproduces round-trips through the fallback (stored as it is)", async () => {
    const [v1] = versions(1);
    await put("tgz-odd/app-1.tgz", v1);
    // gzip with a tar made by another deflater: here zlib's Huffman-only strategy at memLevel 2, parameters the
    // search does not try.
    const odd = new Uint8Array(zlib.gzipSync(tarOf(packageFiles(2)), { strategy: zlib.constants.Z_HUFFMAN_ONLY, memLevel: 2 }));
    const response = await put("tgz-odd/app-2.tgz", odd);
    expect(response.status).toBe(200);
    expect(response.headers.get("x-amz-storage-type")).toBe("Direct");
    expect(new Uint8Array(await (await get("tgz-odd/app-2.tgz")).arrayBuffer())).toEqual(odd);
  });
});
