// A client that stops reading a delta GET, over real HTTP against `wrangler dev`: the Worker gives the codec
// back (the rest of the rebuild goes to a spill, src/engine/stall-release.ts), so another delta GET and a delta
// PUT in the same isolate complete promptly, and the stalled client, when it reads again, gets byte-exact content.
// Objects are 32 MiB so that the socket and proxy buffers between the Worker and the client cannot absorb the
// whole rebuild: without the release, the stalled GET holds the codec and the other requests wait (up to 15 min).
import { AwsClient } from "aws4fetch";
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEV_CREDENTIALS, REGION, startWranglerDev, type WranglerDev } from "./support/wrangler-dev";

let server: WranglerDev;
const client = new AwsClient({ ...DEV_CREDENTIALS, service: "s3", region: REGION });
const MiB = 1024 * 1024;
/** Far below the codec budget's 15-minute wait, far above a 32 MiB decode or encode on a loaded machine. */
const PROMPT_MS = 30_000;

beforeAll(async () => {
  server = await startWranglerDev({ port: 9011 });
}, 120_000);
afterAll(async () => server?.stop());

/** Deterministic pseudo-random bytes (xorshift32). */
function pseudoRandom(size: number, seed: number): Buffer {
  const out = Buffer.alloc(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/** `base` with eight small edits spread over it: a small delta against `base`. */
function editedCopy(base: Buffer, seed: number): Buffer {
  const out = Buffer.from(base);
  for (let i = 1; i <= 8; i++) pseudoRandom(64, seed + i).copy(out, Math.floor((i * out.length) / 10));
  return out;
}

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

async function put(key: string, body: Buffer): Promise<string | null> {
  const response = await client.fetch(`${server.endpoint}/default/${key}`, { method: "PUT", body: new Uint8Array(body) });
  expect(response.status, await response.text()).toBe(200);
  return response.headers.get("x-amz-storage-type");
}

async function getBytes(key: string): Promise<Uint8Array> {
  const response = await client.fetch(`${server.endpoint}/default/${key}`);
  expect(response.status).toBe(200);
  return new Uint8Array(await response.arrayBuffer());
}

/** `promise`, or a failure naming `what` once it has taken PROMPT_MS (a codec held by the stalled client). */
async function promptly<T>(what: string, promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} still waiting after ${PROMPT_MS} ms: the stalled client holds the codec`)), PROMPT_MS);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

describe("a client that stops reading a delta GET", () => {
  it("does not hold the codec: another delta GET and a delta PUT complete, and the stalled client later gets byte-exact content", async () => {
    const v1 = pseudoRandom(32 * MiB, 1);
    const v2 = editedCopy(v1, 100);
    const v3 = editedCopy(v1, 200);
    await put("stall/v1.zip", v1);
    expect(await put("stall/v2.zip", v2)).toBe("Delta");

    const stalledResponse = await client.fetch(`${server.endpoint}/default/stall/v2.zip`);
    expect(stalledResponse.status).toBe(200);
    const stalled = stalledResponse.body!.getReader();
    const chunks: Uint8Array[] = [(await stalled.read()).value!];

    expect(sha256(await promptly("a delta GET", getBytes("stall/v1.zip")))).toBe(sha256(v1));
    expect(await promptly("a delta PUT", put("stall/v3.zip", v3))).toBe("Delta");

    for (let next = await stalled.read(); !next.done; next = await stalled.read()) chunks.push(next.value);
    expect(sha256(Buffer.concat(chunks))).toBe(sha256(v2));
  }, 85_000);
});
