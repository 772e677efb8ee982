// The runtime's node:zlib is only a fast path for the shipped Chromium zlib (issue #18): when it makes other bytes
// than the shipped deflater, through the whole engine (S3 PUT and GET against real local R2), a PUT still stores
// a compressed-aware delta made and checked with the shipped deflater, a GET never answers wrong bytes, and the
// isolate stops using the fast path.
import { deflateRawSync } from "node:zlib";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import type { DeflateRecipe } from "../../src/deflate/api";
import { deflaterModules } from "../../src/deflate/modules";
import { nodeZlibDeflater } from "../../src/deflate/node-zlib";
import { PinnedDeflaters, replaceIsolateDeflaters } from "../../src/deflate/pinned";
import { probeContent } from "../../src/deflate/recompress";
import { ZLIB_CHROMIUM_ID } from "../../src/deflate/wasm-deflater";
import { randomBytes } from "../fixtures/random";
import { npmGzip, packageFiles, tarOf } from "./helpers/artifacts";
import { flipsByteAt } from "./helpers/wrong-fast-path";
import { s3Compressed as s3 } from "./s3-support";

const B = "/default";
const NPM: DeflateRecipe = { deflater: ZLIB_CHROMIUM_ID, level: 9, memLevel: 8, windowBits: 15, strategy: 0 };
/** An output offset the fast path's probe never reaches, but these tarballs' deflate streams do. */
const PAST_PROBE = deflateRawSync(probeContent(), NPM).length + 1000;

/** An npm-CLI tarball (Chromium zlib 9/8) whose deflate stream is longer than the probe's: sources plus a blob. */
function tarball(minor: number): Uint8Array {
  const blob = { name: "package/dist/blob.bin", data: randomBytes(PAST_PROBE + 64 * 1024, 5) };
  const tgz = npmGzip(tarOf([...packageFiles(minor), blob]));
  expect(tgz.length).toBeGreaterThan(PAST_PROBE + 10);
  return tgz;
}

let restore: PinnedDeflaters | undefined;
function useFastPath(fast: ReturnType<typeof nodeZlibDeflater>): PinnedDeflaters {
  const deflaters = new PinnedDeflaters(deflaterModules, { [ZLIB_CHROMIUM_ID]: fast });
  restore ??= replaceIsolateDeflaters(deflaters);
  if (restore !== deflaters) replaceIsolateDeflaters(deflaters);
  return deflaters;
}
afterEach(() => {
  if (restore) replaceIsolateDeflaters(restore);
  restore = undefined;
});

/** The body of a GET, or null when it failed (an error status, or a body aborted mid-way). */
async function got(key: string): Promise<Uint8Array | null> {
  const response = await s3("GET", `${B}/${key}`);
  try {
    const body = new Uint8Array(await response.arrayBuffer());
    return response.status === 200 ? body : null;
  } catch {
    return null;
  }
}

describe("the runtime zlib fast path", () => {
  it("wrong at PUT: the delta is made and checked with the shipped deflater, GETs are exact, the fast path is off", async () => {
    const wrong = flipsByteAt(PAST_PROBE);
    const deflaters = useFastPath(wrong);
    const [v1, v2] = [tarball(1), tarball(2)];
    await s3("PUT", `${B}/fp-put/app-1.tgz`, { body: v1 });
    const put = await s3("PUT", `${B}/fp-put/app-2.tgz`, { body: v2 });
    expect(put.status).toBe(200);
    expect(put.headers.get("x-amz-storage-type")).toBe("Delta");
    expect((await env.BUCKET.head("fp-put/app-2.tgz.delta"))?.customMetadata?.["dg-recompress"]).toBe("v2");
    expect(wrong.calls).toBeGreaterThan(1); // the probe, then the PUT's check that caught it
    expect(deflaters.mayUseFastPath([NPM])).toBe(false);
    const callsBefore = wrong.calls;
    expect(await got("fp-put/app-2.tgz")).toEqual(v2);
    expect(wrong.calls).toBe(callsBefore); // the GET went through the shipped deflater
  });

  // Also: the failed rebuild leaves nothing in the rebuilt-object cache for the next GET to trip over.
  it("wrong after the PUT: a GET fails rather than answer other bytes, and the next GET is exact", async () => {
    useFastPath(nodeZlibDeflater());
    const [v1, v2] = [tarball(3), tarball(4)];
    await s3("PUT", `${B}/fp-get/app-1.tgz`, { body: v1 });
    expect((await s3("PUT", `${B}/fp-get/app-2.tgz`, { body: v2 })).headers.get("x-amz-storage-type")).toBe("Delta");
    const wrong = flipsByteAt(PAST_PROBE);
    const deflaters = useFastPath(wrong); // the runtime changed under the isolate: the probe still passes
    const first = await got("fp-get/app-2.tgz");
    expect(wrong.calls).toBeGreaterThan(1);
    expect(first).toBeNull();
    expect(deflaters.mayUseFastPath([NPM])).toBe(false);
    const callsBefore = wrong.calls;
    expect(await got("fp-get/app-2.tgz")).toEqual(v2);
    expect(wrong.calls).toBe(callsBefore);
  });
});
