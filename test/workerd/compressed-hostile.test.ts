// Hostile and odd compressed uploads: a gzip bomb, a truncated member, a zip with overlapping or lying entries,
// a header that never ends, multi-member gzip. Each is stored (compressed-aware, as a plain delta or as it is)
// and reads back byte-exact; none fails the PUT, and a bomb is stopped at the inflated-size cap.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import * as zlib from "node:zlib";
import { scanContainer } from "../../src/engine/containers";
import { concat, npmGzip, packageFiles, tarOf, zipOf } from "./helpers/artifacts";
import { readAll, workerEngine } from "./engine-helpers";
import { s3Compressed as s3 } from "./s3-support";

const B = "/default";
const bucket = env.BUCKET;
const MiB = 1024 * 1024;
const put = (key: string, body: Uint8Array) => s3("PUT", `${B}/${key}`, { body });

async function storesAndReadsBack(key: string, body: Uint8Array): Promise<string | null> {
  const response = await put(key, body);
  expect(response.status).toBe(200);
  const got = await s3("GET", `${B}/${key}`);
  expect(got.status).toBe(200);
  expect(new Uint8Array(await got.arrayBuffer())).toEqual(body);
  return response.headers.get("x-amz-storage-type");
}

async function seed(prefix: string): Promise<void> {
  await put(`${prefix}/v1.tgz`, npmGzip(tarOf(packageFiles(1))));
}

describe("hostile compressed uploads", () => {
  it("a gzip bomb is stopped at the inflated-size cap and stored as it is", async () => {
    const engine = workerEngine({ compressedDeltas: true, maxDeltaObjectSize: 8 * MiB });
    const small = npmGzip(tarOf(packageFiles(1)));
    await engine.put("cz-bomb/v1.tgz", { body: small, size: small.length });
    const bomb = new Uint8Array(zlib.gzipSync(new Uint8Array(64 * MiB), { level: 9 }));
    expect(bomb.length).toBeLessThan(MiB);
    const scanned = await scanContainer(new Blob([bomb]).stream(), { maxInflated: 8 * MiB });
    expect(scanned).toBeNull();
    const result = await engine.put("cz-bomb/v2.tgz", { body: bomb, size: bomb.length });
    expect(result.storageType).toBe("passthrough");
    expect(await readAll(engine, "cz-bomb/v2.tgz")).toEqual(bomb);
  });

  it("a truncated gzip member is stored as it is", async () => {
    await seed("cz-trunc");
    const whole = npmGzip(tarOf(packageFiles(2)));
    expect(await storesAndReadsBack("cz-trunc/v2.tgz", whole.subarray(0, Math.floor(whole.length * 0.6)))).toBe("Direct");
    expect(await storesAndReadsBack("cz-trunc/v3.tgz", whole.subarray(0, whole.length - 3))).toBe("Direct");
  });

  it("a gzip header whose file name never ends, and corrupt deflate data, are stored as they are", async () => {
    await seed("cz-head");
    const endless = concat([Uint8Array.from([0x1f, 0x8b, 8, 8, 0, 0, 0, 0, 0, 3]), new Uint8Array(100_000).fill(0x41)]);
    expect(await storesAndReadsBack("cz-head/v2.tgz", endless)).toBe("Direct");
    const corrupt = npmGzip(tarOf(packageFiles(2)));
    corrupt.fill(0xff, 200, 400);
    expect(await storesAndReadsBack("cz-head/v3.tgz", corrupt)).toBe("Direct");
  });

  it("a multi-member gzip keeps every member's header and trailer", async () => {
    await seed("cz-multi");
    const parts = [tarOf(packageFiles(2)).subarray(0, 300_000), tarOf(packageFiles(2)).subarray(300_000)];
    const multi = concat(parts.map((part) => npmGzip(part)));
    expect(await storesAndReadsBack("cz-multi/v2.tgz", multi)).toBe("Delta");
    expect((await bucket.head("cz-multi/v2.tgz.delta"))?.customMetadata?.["dg-recompress"]).toBe("v2");
  });

  it("a zip with overlapping entries (central directory pointing twice at one entry, a local header lying about its size)", async () => {
    await put("cz-overlap/v1.zip", zipOf(packageFiles(1)));
    const zip = zipOf(packageFiles(2));
    // Central directory: the first entry listed again, same offset 0 (two names, one body).
    const centralAt = zip.length - 22 - centralSize(zip);
    const firstCentral = zip.subarray(centralAt, centralAt + 46 + u16(zip, centralAt + 28));
    const lying = zip.slice();
    lying.set([0xff, 0xff, 0x00, 0x00], 18); // first local header: compressed size 65535 (the data is shorter)
    const overlapping = concat([lying.subarray(0, centralAt), zip.subarray(centralAt, zip.length - 22), firstCentral, zip.subarray(zip.length - 22)]);
    expect(await storesAndReadsBack("cz-overlap/v2.zip", overlapping)).not.toBeNull();
    // Entries that claim to be deflated but hold stored bytes: the walk stops at them, the rest stays as it is.
    const fake = zip.slice();
    fake.set([8, 0], 8);
    expect(await storesAndReadsBack("cz-overlap/v3.zip", fake)).not.toBeNull();
  });
});

function centralSize(zip: Uint8Array): number {
  const end = zip.length - 22;
  return (zip[end + 12] | (zip[end + 13] << 8) | (zip[end + 14] << 16) | (zip[end + 15] << 24)) >>> 0;
}

function u16(bytes: Uint8Array, at: number): number {
  return bytes[at] | (bytes[at + 1] << 8);
}
