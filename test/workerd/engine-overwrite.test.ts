// Overwrites of one key that store different variants (a `.delta` and a plain copy): the write that commits
// last wins and leaves only its variant. Concurrent PUTs of one key: test/workerd/coordination-races.test.ts.
import { describe, expect, it } from "vitest";
import { encodeMetadata, type DgRecord } from "../../src/engine/metadata";
import { backend, bodyStream, bytesOf, edited, pseudoRandom, sha256Hex, workerEngine } from "./engine-helpers";

const engine = workerEngine();

async function readAll(key: string): Promise<Uint8Array> {
  const opened = await engine.open(key);
  expect(opened).not.toBeNull();
  return bytesOf(await opened!.read());
}

/** A plain copy written outside the proxy, stamped later than our PUT (a clock ahead, another tool). */
async function writeNewerPlainCopy(key: string, bytes: Uint8Array): Promise<void> {
  const record: DgRecord = {
    kind: "passthrough", note: "passthrough", tool: "test", originalName: key.split("/").pop()!,
    sha256: await sha256Hex(bytes), size: bytes.length, md5: "", createdAt: new Date(Date.now() + 60_000),
    http: {}, userMetadata: {}, checksums: {},
  };
  await backend.put(key, bytes, bytes.length, { metadata: encodeMetadata(record) });
}

describe("overwriting a key with a different stored variant", () => {
  it("a delta PUT replaces a plain copy written before it, even one stamped later: the last PUT wins", async () => {
    const v1 = pseudoRandom(256 * 1024, 41);
    await engine.put("race/app.zip", { body: bodyStream(v1), size: v1.length });
    const newer = pseudoRandom(64 * 1024, 42);
    await writeNewerPlainCopy("race/app2.zip", newer);

    const v2 = edited(v1, 43);
    const result = await engine.put("race/app2.zip", { body: bodyStream(v2), size: v2.length });
    expect(result.storageType).toBe("delta");

    expect(await backend.head("race/app2.zip")).toBeNull();
    expect(await sha256Hex(await readAll("race/app2.zip"))).toBe(await sha256Hex(v2));
  });

  it("an older plain copy is replaced: after a delta PUT only the .delta remains", async () => {
    const v1 = pseudoRandom(256 * 1024, 51);
    await engine.put("race2/app.zip", { body: bodyStream(v1), size: v1.length });
    const plain = pseudoRandom(32 * 1024, 52);
    await engine.put("race2/app2.zip", { body: bodyStream(plain), size: plain.length });
    const v2 = edited(v1, 53);
    await engine.put("race2/app2.zip", { body: bodyStream(v2), size: v2.length });

    expect(await backend.head("race2/app2.zip")).toBeNull();
    expect(await sha256Hex(await readAll("race2/app2.zip"))).toBe(await sha256Hex(v2));
  });
});
