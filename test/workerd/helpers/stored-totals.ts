// The savings totals a bucket should show, summed from a listing of its R2 binding itself (none of our code):
// every object under the bucket's root except `.dg/` internals is stored bytes; a `.delta` is a delta object
// (its logical size from `logicalSize`, e.g. a HEAD through S3), any other object a direct one, `reference.bin`
// and a deltaspace's inflated reference `<deltaspace>/.dg/reference.inflated.bin` (at the root
// `.dg/reference.inflated.bin`) reference objects of that deltaspace; a `.meta` sidecar adds its bytes to its owner's kind, and counts only while its owner exists
// (the proxy ignores an orphan sidecar, and so do the totals: docs/ARCHITECTURE.md "Savings totals").
import { expect } from "vitest";

export interface Totals { objects: number; logicalBytes: number; storedBytes: number }
export interface ExpectedTotals extends Totals {
  referenceBytes: number;
  byType: { reference: Totals; delta: Totals; direct: Totals };
  deltaspaces: Map<string, Totals & { referenceBytes: number }>;
  /** Per deltaspace, each delta object's delta size / original size (the worst one is shown). */
  deltaRatios: Map<string, Map<string, number>>;
}

const INFLATED = ".dg/reference.inflated.bin";

const zero = (): Totals => ({ objects: 0, logicalBytes: 0, storedBytes: 0 });

export async function storedTotals(binding: R2Bucket, root: string, logicalSize: (key: string) => Promise<number>): Promise<ExpectedTotals> {
  const objects = new Map<string, number>();
  let cursor: string | undefined;
  do {
    const page = await binding.list({ prefix: root, cursor, limit: 1000 });
    for (const object of page.objects) {
      const key = object.key.slice(root.length);
      if (!key.startsWith(".dg/") || key === INFLATED) objects.set(key, object.size);
    }
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);

  const expected: ExpectedTotals = { ...zero(), referenceBytes: 0, byType: { reference: zero(), delta: zero(), direct: zero() }, deltaspaces: new Map(), deltaRatios: new Map() };
  for (const [key, size] of objects) {
    const owner = key.endsWith(".meta") ? key.slice(0, -5) : key;
    if (owner !== key && !objects.has(owner)) continue; // an orphan sidecar
    const inflated = owner === INFLATED || owner.endsWith(`/${INFLATED}`);
    const slash = inflated ? owner.length - INFLATED.length - 1 : owner.lastIndexOf("/");
    const deltaspace = slash < 0 ? "" : owner.slice(0, slash);
    const name = owner.slice(slash + 1);
    const ds = expected.deltaspaces.get(deltaspace) ?? { ...zero(), referenceBytes: 0 };
    expected.deltaspaces.set(deltaspace, ds);
    const kind = inflated || name === "reference.bin" ? "reference" : name.endsWith(".delta") ? "delta" : "direct";
    const type = expected.byType[kind];
    type.storedBytes += size;
    expected.storedBytes += size;
    ds.storedBytes += size;
    if (kind === "reference") {
      expected.referenceBytes += size;
      ds.referenceBytes += size;
      if (owner === key) type.objects += 1;
      continue;
    }
    if (owner !== key) continue; // a sidecar: bytes only
    const logical = kind === "delta" ? await logicalSize(owner.slice(0, -".delta".length)) : size;
    if (kind === "delta" && logical > 0) {
      const ratios = expected.deltaRatios.get(deltaspace) ?? new Map<string, number>();
      expected.deltaRatios.set(deltaspace, ratios.set(owner.slice(0, -".delta".length), size / logical));
    }
    for (const totals of [type, expected, ds]) { totals.objects += 1; totals.logicalBytes += logical; }
  }
  return expected;
}

/** The totals shown (GET /_/stats?bucket=B, or a coordinator's savings with totals spread) equal the stored ones. */
export function expectTotalsEqual(shown: any, expected: ExpectedTotals): void {
  expect({
    objects: shown.objects, logicalBytes: shown.logicalBytes, storedBytes: shown.storedBytes, referenceBytes: shown.referenceBytes,
    byType: shown.byType,
  }).toEqual({
    objects: expected.objects, logicalBytes: expected.logicalBytes, storedBytes: expected.storedBytes, referenceBytes: expected.referenceBytes,
    byType: expected.byType,
  });
  expect(shown.savedBytes).toBe(expected.logicalBytes - expected.storedBytes);
  expect(shown.deltaspaceCount).toBe(expected.deltaspaces.size);
  const rows = Object.fromEntries(shown.deltaspaces.map((d: any) => [d.deltaspace, {
    objects: d.objects, logicalBytes: d.logicalBytes, storedBytes: d.storedBytes, referenceBytes: d.referenceBytes,
  }]));
  expect(rows).toEqual(Object.fromEntries(expected.deltaspaces));
  for (const row of shown.deltaspaces) {
    const ratios = expected.deltaRatios.get(row.deltaspace);
    if (!ratios) {
      expect(row.worst, `worst delta of ${row.deltaspace}`).toBeNull();
      continue;
    }
    expect(row.worst.ratio, `worst delta of ${row.deltaspace}`).toBeCloseTo(Math.max(...ratios.values()), 12);
    expect(ratios.get(row.worst.key)).toBeCloseTo(row.worst.ratio, 12);
  }
}
