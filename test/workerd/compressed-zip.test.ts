// Compressed-aware deltas of zip artifacts (.zip, .jar, .whl…): each deflated entry reproduced on its own,
// stored entries, local headers, data descriptors and the central directory kept verbatim.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { packageFiles, zipOf, type ZipOptions } from "./helpers/artifacts";
import { s3Compressed as s3 } from "./s3-support";
import { ByteQueue, encodeHeader, readHeader, type Segment } from "../../src/engine/containers";

const B = "/default";
const bucket = env.BUCKET;
const put = (key: string, body: Uint8Array) => s3("PUT", `${B}/${key}`, { body });

async function roundTrip(prefix: string, name: (minor: number) => string, options: ZipOptions) {
  const v1 = zipOf(packageFiles(1), options);
  const v2 = zipOf(packageFiles(2), options);
  expect((await put(`${prefix}/${name(1)}`, v1)).headers.get("x-amz-storage-type")).toBe("Reference");
  const response = await put(`${prefix}/${name(2)}`, v2);
  expect(response.headers.get("x-amz-storage-type")).toBe("Delta");
  const delta = await bucket.head(`${prefix}/${name(2)}.delta`);
  // Nothing is stored for the reference's inflated form (made on demand from reference.bin).
  expect((await bucket.list({ prefix: `${prefix}/.dg/` })).objects).toEqual([]);
  const got = await s3("GET", `${B}/${prefix}/${name(2)}`);
  expect(got.status).toBe(200);
  expect(new Uint8Array(await got.arrayBuffer())).toEqual(v2);
  return { v2, delta: delta! };
}

describe("zip artifacts", () => {
  it("a Python-zipfile-like .zip (level 6) is a compressed-aware delta, rebuilt byte-exact", async () => {
    const { v2, delta } = await roundTrip("cz-zip", (m) => `pkg-1.${m}.zip`, {});
    expect(delta.customMetadata?.["dg-recompress"]).toBe("v2");
    expect(delta.size).toBeLessThan(v2.length / 20);
  });

  it("a jar with data descriptors and stored entries, level 9", async () => {
    const { delta } = await roundTrip("cz-jar", (m) => `lib-1.${m}.jar`,
      { level: 9, dataDescriptor: true, stored: (name) => name.endsWith(".json") });
    expect(delta.customMetadata?.["dg-recompress"]).toBe("v2");
  });

  it("a zip whose entries are mostly made by a deflater no recipe reproduces takes today's path", async () => {
    // Three modules in four by the unknown deflater: a quarter of the bytes reproduce, interleaved with misses.
    const options: ZipOptions = { huffmanOnly: (name) => !/module-\d*[048]\.js$|\.json$|\.md$/.test(name) };
    const v1 = zipOf(packageFiles(1), options);
    const v2 = zipOf(packageFiles(2), options);
    await put("cz-few/pkg-1.zip", v1);
    const response = await put("cz-few/pkg-2.zip", v2);
    expect(response.status).toBe(200);
    expect((await bucket.head("cz-few/pkg-2.zip.delta"))?.customMetadata?.["dg-recompress"]).toBeUndefined();
    expect(await bucket.head("cz-few/.dg/reference.inflated.bin")).toBeNull();
    expect(new Uint8Array(await (await s3("GET", `${B}/cz-few/pkg-2.zip`)).arrayBuffer())).toEqual(v2);
  });

  it("with compressed-aware deltas off, a .zip takes today's path: a plain delta if it pays, else as-is (DeltaGlider-readable)", async () => {
    // The bucket-wide setting is covered by src/config.ts; here the engine is asked directly.
    const { workerEngine, readAll } = await import("./engine-helpers");
    const engine = workerEngine({ compressedDeltas: false });
    const v1 = zipOf(packageFiles(1));
    const v2 = zipOf(packageFiles(2));
    await engine.put("cz-off/pkg-1.zip", { body: v1, size: v1.length });
    const result = await engine.put("cz-off/pkg-2.zip", { body: v2, size: v2.length });
    // Every entry's first line names the version, so every deflate stream differs from its start: no plain delta pays.
    expect(result.storageType).toBe("passthrough");
    expect(await bucket.head("cz-off/pkg-2.zip.delta")).toBeNull();
    expect(await bucket.head("cz-off/.dg/reference.inflated.bin")).toBeNull();
    expect(await readAll(engine, "cz-off/pkg-2.zip")).toEqual(v2);
  });

  it("an object's inflated-form header repeats its reference's segment table verbatim, so many entries cost no delta each; v1 headers still read", async () => {
    const recipe = { deflater: "zlib-1.3.1", level: 6, memLevel: 8, windowBits: 15, strategy: 0 };
    const entries = 500;
    const segments: Segment[] = Array.from({ length: 2 * entries }, (_, i) =>
      i % 2 ? { kind: "deflate", length: 100 + i, inflated: 300 + 7 * i, recipe } : { kind: "raw", length: 30 + (i % 7) });
    const size = segments.reduce((n, s) => n + s.length, 0);
    // The reference's form is made without a recipe search: the same segments, no recipes.
    const referenceHeader = encodeHeader(segments.map((s) => (s.kind === "deflate" ? { ...s, recipe: undefined } : s)), size);
    const objectHeader = encodeHeader(segments, size);
    const latin1 = (bytes: Uint8Array) => String.fromCharCode(...bytes);
    // All but the recipes table (near the start) and the recipe column (one byte per entry, at the end).
    const table = latin1(referenceHeader.subarray(16, referenceHeader.length - entries));
    expect(table.length).toBeGreaterThan(4 * entries);
    expect(latin1(objectHeader).includes(table)).toBe(true);

    for (const version of [1, 2]) {
      const queue = new ByteQueue(new Blob([encodeHeader(segments, size, version)]).stream().getReader());
      const parsed = await readHeader(queue).finally(() => queue.cancel());
      expect(parsed.originalSize).toBe(size);
      expect(parsed.segments).toEqual(segments);
    }
  });
});
