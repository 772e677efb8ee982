// Overwrites of one key that store different variants (a `.delta` and a plain copy) must never delete each
// other's data: the newest write wins and the object is never lost.
import { describe, expect, it } from "vitest";
import { encodeMetadata, type DgRecord } from "../../src/engine/metadata";
import { backend, bodyStream, bytesOf, edited, pseudoRandom, sha256Hex, workerEngine } from "./engine-helpers";

const engine = workerEngine();

async function readAll(key: string): Promise<Uint8Array> {
  const opened = await engine.open(key);
  expect(opened).not.toBeNull();
  return bytesOf(await opened!.read());
}

/** A plain copy written by a concurrent PUT that started after ours (its dg-created-at is later). */
async function writeNewerPlainCopy(key: string, bytes: Uint8Array): Promise<void> {
  const record: DgRecord = {
    kind: "passthrough", note: "passthrough", tool: "test", originalName: key.split("/").pop()!,
    sha256: await sha256Hex(bytes), size: bytes.length, md5: "", createdAt: new Date(Date.now() + 60_000),
    http: {}, userMetadata: {}, checksums: {},
  };
  await backend.put(key, bytes, bytes.length, { metadata: encodeMetadata(record) });
}

describe("overwriting a key with a different stored variant", () => {
  it("a delta PUT does not delete a newer plain copy written meanwhile; reads serve the newer copy", async () => {
    const v1 = pseudoRandom(256 * 1024, 41);
    await engine.put("race/app.zip", { body: bodyStream(v1), size: v1.length });
    const newer = pseudoRandom(64 * 1024, 42);
    await writeNewerPlainCopy("race/app2.zip", newer);

    const v2 = edited(v1, 43);
    const result = await engine.put("race/app2.zip", { body: bodyStream(v2), size: v2.length });
    expect(result.storageType).toBe("delta");

    expect(await backend.head("race/app2.zip")).not.toBeNull();
    expect(await sha256Hex(await readAll("race/app2.zip"))).toBe(await sha256Hex(newer));
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
