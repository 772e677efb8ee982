// The rule of compressed-aware deltas, and what damage does to them: a recipe is used only after the whole
// object was rebuilt from its inflated form and matched the upload; a damaged delta or inflated form, or a
// reference.bin damaged or replaced behind the proxy's back, never yields a 200 with wrong bytes.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { workerCodec } from "../../src/wiring";
import { gzipWithFlushAt, npmGzip, packageFiles, tarOf } from "./helpers/artifacts";
import { bytesOf } from "./engine-helpers";
import { referenceFormSource } from "./helpers/reference-form";
import { s3Compressed as s3 } from "./s3-support";

const B = "/default";
const bucket = env.BUCKET;

const put = (key: string, body: Uint8Array) => s3("PUT", `${B}/${key}`, { body });

/** GET answers either the exact bytes or an error: never a 200 with other bytes. Returns the status. */
async function getNeverWrong(key: string, expected: Uint8Array): Promise<number> {
  const response = await s3("GET", `${B}/${key}`);
  let body: Uint8Array | null = null;
  try {
    body = new Uint8Array(await response.arrayBuffer());
  } catch {
    return 500; // a body aborted mid-way (a large rebuild that failed its check)
  }
  if (response.status === 200) expect(body).toEqual(expected);
  return response.status;
}

async function seeded(prefix: string): Promise<Uint8Array> {
  const v2 = npmGzip(tarOf(packageFiles(2)));
  await put(`${prefix}/app-1.tgz`, npmGzip(tarOf(packageFiles(1))));
  const response = await put(`${prefix}/app-2.tgz`, v2);
  expect(response.headers.get("x-amz-storage-type")).toBe("Delta");
  expect((await bucket.head(`${prefix}/app-2.tgz.delta`))?.customMetadata?.["dg-recompress"]).toBe("v2");
  return v2;
}

/** Replace a stored object's bytes, keeping its metadata (dg-delta-size follows). */
async function rewrite(key: string, bytes: Uint8Array): Promise<void> {
  const old = (await bucket.head(key))!;
  const metadata = { ...old.customMetadata };
  if (metadata["dg-delta-size"]) metadata["dg-delta-size"] = String(bytes.length);
  await bucket.put(key, bytes, { customMetadata: metadata });
}

describe("a recipe is used only after the whole object reproduced", () => {
  it("a stream whose start matches the npm recipe but whose end does not is stored as it is, and reads back", async () => {
    await put("cz-rule/app-1.tgz", npmGzip(tarOf(packageFiles(1))));
    const tar = tarOf(packageFiles(2, 80));
    const odd = await gzipWithFlushAt(tar, tar.length - 100_000);
    const response = await put("cz-rule/app-2.tgz", odd);
    expect(response.status).toBe(200);
    expect(response.headers.get("x-amz-storage-type")).toBe("Direct");
    expect(await getNeverWrong("cz-rule/app-2.tgz", odd)).toBe(200);
  });
});

describe("damage never yields wrong bytes", () => {
  it("a raw byte of the inflated form changed (same length when recompressed): only the SHA-256 check catches it", async () => {
    const v2 = await seeded("cz-form");
    const source = await referenceFormSource(bucket, "cz-form");
    const stored = new Uint8Array(await (await bucket.get("cz-form/app-2.tgz.delta"))!.arrayBuffer());
    const form = await bytesOf(workerCodec.decode(source, new Blob([stored]).stream(), {}));
    // The gzip header's MTIME sits in the first raw segment, right after the inflated form's header.
    const mtime = form.length - (tarOf(packageFiles(2)).length + 8 + 10) + 4;
    form[mtime] ^= 0x01;
    const damaged = await bytesOf(workerCodec.encode(source, new Blob([form]).stream(), { targetSize: form.length }));
    await rewrite("cz-form/app-2.tgz.delta", damaged);
    expect(await getNeverWrong("cz-form/app-2.tgz", v2)).toBe(500);
  });

  it("one byte of the stored delta flipped, at several places", async () => {
    const v2 = await seeded("cz-delta");
    const original = new Uint8Array(await (await bucket.get("cz-delta/app-2.tgz.delta"))!.arrayBuffer());
    let refused = 0;
    for (const at of [0, 5, Math.floor(original.length / 3), Math.floor(original.length / 2), original.length - 1]) {
      const damaged = original.slice();
      damaged[at] ^= 0x40;
      await rewrite("cz-delta/app-2.tgz.delta", damaged);
      if ((await getNeverWrong("cz-delta/app-2.tgz", v2)) !== 200) refused++;
    }
    expect(refused).toBeGreaterThan(0);
  });

  it("one byte of reference.bin flipped, its record kept (a warm reference cache may still serve the right blocks)", async () => {
    const v2 = await seeded("cz-ref");
    const key = "cz-ref/reference.bin";
    const original = new Uint8Array(await (await bucket.get(key))!.arrayBuffer());
    // In the gzip header (raw: copied into the form as it is), then inside the deflate stream.
    for (const at of [4, Math.floor(original.length / 2)]) {
      const damaged = original.slice();
      damaged[at] ^= 0x40;
      await rewrite(key, damaged);
      await getNeverWrong("cz-ref/app-2.tgz", v2);
    }
  });
});
