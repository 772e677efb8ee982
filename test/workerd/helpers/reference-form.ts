// The inflated form of a stored reference.bin, computed in the test the way the engine makes it on demand
// (scan -> header -> inflated segments), and the old layout that stored it as `<deltaspace>/.dg/reference.inflated.bin`.
import { INFLATED_FORM_VERSION, encodeHeader, inflatedForm, scanContainer } from "../../../src/engine/containers";
import { encodeMetadata } from "../../../src/engine/metadata";
import { generatorStream } from "../../../src/engine/read-streams";
import { bytesOf, sha256Hex } from "../engine-helpers";

/** The inflated form of a gzip or zip (the bytes the stored inflated reference used to hold), in a layout version. */
export async function inflatedFormOf(original: Uint8Array, version: 1 | 2 = INFLATED_FORM_VERSION): Promise<Uint8Array> {
  const segments = await scanContainer(new Blob([original]).stream(), { maxInflated: 1 << 30 });
  if (!segments) throw new Error("not a container the engine can take apart");
  const header = encodeHeader(segments, original.length, version);
  return bytesOf(generatorStream(inflatedForm(new Blob([original]).stream(), segments, header)));
}

/** The codec source over the inflated form of a deltaspace's stored reference.bin. */
export async function referenceFormSource(bucket: R2Bucket, deltaspace: string) {
  const reference = new Uint8Array(await (await bucket.get(`${deltaspace}/reference.bin`))!.arrayBuffer());
  const form = await inflatedFormOf(reference);
  return { size: form.length, read: async (offset: number, length: number) => form.subarray(offset, offset + length) };
}

/**
 * Make a deltaspace look as an earlier version left it: the inflated reference stored (object and metadata as
 * that version wrote them), and the compressed-aware deltas without the reference-form keys it did not write.
 */
export async function asStoredFormLayout(bucket: R2Bucket, deltaspace: string, deltaKeys: string[], version: 1 | 2 = INFLATED_FORM_VERSION): Promise<Uint8Array> {
  const referenceObject = (await bucket.get(`${deltaspace}/reference.bin`))!;
  const reference = new Uint8Array(await referenceObject.arrayBuffer());
  const form = await inflatedFormOf(reference, version);
  const record = encodeMetadata({
    kind: "reference", note: "inflated-reference", tool: "deltaglider-proxy", originalName: "__inflated_reference__",
    sourceName: `${deltaspace}/reference.bin`, sha256: await sha256Hex(form), size: form.length, createdAt: new Date(),
    http: {}, userMetadata: {}, checksums: {},
  });
  await bucket.put(`${deltaspace}/.dg/reference.inflated.bin`, form, {
    customMetadata: { ...record, "dg-inflated-from": referenceObject.customMetadata!["dg-file-sha256"] },
  });
  for (const key of deltaKeys) {
    const delta = (await bucket.get(key))!;
    const metadata = { ...delta.customMetadata };
    delete metadata["dg-ref-inflated-size"];
    delete metadata["dg-ref-inflated-from"];
    await bucket.put(key, await delta.arrayBuffer(), { customMetadata: metadata });
    const sidecar = await bucket.get(`${key}.meta`);
    if (sidecar) {
      const json = await sidecar.json<Record<string, unknown>>();
      delete json.ref_inflated_size;
      delete json.ref_inflated_from;
      await bucket.put(`${key}.meta`, JSON.stringify(json));
    }
  }
  return form;
}
