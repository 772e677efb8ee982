// The savings totals with compressed-aware deltas (on by default): the inflated form of a
// deltaspace's reference is made on demand, so a compressed-aware delta adds no reference bytes, and GET /_/stats
// still equals what is stored (summed from the R2 binding's own listing, helpers/stored-totals.ts) after more
// versions, a rebuild scan and the deletes. An inflated reference an earlier version stored
// (`<deltaspace>/.dg/reference.inflated.bin`, at the bucket root `.dg/reference.inflated.bin`) is one of its
// deltaspace's reference objects: a rebuild scan counts it, and the deletes that collect reference.bin collect it.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { npmGzip, packageFiles, tarOf } from "./helpers/artifacts";
import { asStoredFormLayout } from "./helpers/reference-form";
import { s3, uniqueBucket } from "./s3-support";
import { dataRoot, expectTotalsMatchStorage, put, stats } from "./helpers/bucket-stats";

/** A rebuild scan of the bucket's totals from storage, page by page. */
async function rebuildScan(bucket: string): Promise<void> {
  let cursor: string | null = null;
  let step: any;
  do {
    const response = await s3("POST", `/_/stats/rebuild?bucket=${bucket}&limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    expect(response.status).toBe(200);
    step = await response.json();
    cursor = step.cursor;
  } while (!step.done);
}

function row(shown: any, deltaspace: string): any {
  return shown.deltaspaces.find((d: any) => d.deltaspace === deltaspace);
}

const versions = Array.from({ length: 3 }, (_, minor) => npmGzip(tarOf(packageFiles(minor))));

describe("savings totals with compressed-aware deltas", () => {
  it("a compressed-aware delta adds no reference bytes (nested and at the root), through a rebuild scan and the deletes", async () => {
    const bucket = uniqueBucket("inflated");
    expect((await s3("PUT", `/${bucket}`)).status).toBe(200);
    for (const prefix of ["pkg/app/", ""]) {
      expect(await put(bucket, `${prefix}app-1.0.0.tgz`, versions[0])).toBe("Reference");
      const referenceOnly = row(await expectTotalsMatchStorage(bucket), prefix.slice(0, -1));
      expect(await put(bucket, `${prefix}app-1.1.0.tgz`, versions[1])).toBe("Delta");
      expect((await env.BUCKET.list({ prefix: `${dataRoot(bucket)}${prefix}.dg/` })).objects).toEqual([]);
      const shown = row(await expectTotalsMatchStorage(bucket), prefix.slice(0, -1));
      expect(shown.referenceBytes).toBe(referenceOnly.referenceBytes);
      expect(await put(bucket, `${prefix}app-1.2.0.tgz`, versions[2])).toBe("Delta");
      expect(row(await expectTotalsMatchStorage(bucket), prefix.slice(0, -1)).referenceBytes).toBe(shown.referenceBytes);
    }
    const live = await stats(bucket);
    expect(live.byType.reference.objects).toBe(2); // the two reference.bin

    await rebuildScan(bucket);
    const rebuilt = await expectTotalsMatchStorage(bucket);
    expect(rebuilt.byType).toEqual(live.byType);

    for (const prefix of ["pkg/app/", ""]) {
      for (const version of ["1.0.0", "1.1.0", "1.2.0"]) expect((await s3("DELETE", `/${bucket}/${prefix}app-${version}.tgz`)).status).toBe(204);
    }
    const empty = await expectTotalsMatchStorage(bucket);
    expect([empty.storedBytes, empty.referenceBytes, empty.byType.reference.objects]).toEqual([0, 0, 0]);
  });

  it("an inflated reference an earlier version stored counts as reference bytes of its deltaspace, and goes with reference.bin", async () => {
    const bucket = uniqueBucket("legacy-inflated");
    expect((await s3("PUT", `/${bucket}`)).status).toBe(200);
    for (const prefix of ["pkg/app/", ""]) {
      expect(await put(bucket, `${prefix}app-1.0.0.tgz`, versions[0])).toBe("Reference");
      expect(await put(bucket, `${prefix}app-1.1.0.tgz`, versions[1])).toBe("Delta");
      await asStoredFormLayout(env.BUCKET, `${dataRoot(bucket)}${prefix}`.slice(0, -1), [`${dataRoot(bucket)}${prefix}app-1.1.0.tgz.delta`]);
    }
    await rebuildScan(bucket);
    const shown = await expectTotalsMatchStorage(bucket);
    expect(shown.byType.reference.objects).toBe(4); // two reference.bin, two inflated references
    // Still read (against the form made from reference.bin), and collected with it.
    for (const prefix of ["pkg/app/", ""]) {
      const got = await s3("GET", `/${bucket}/${prefix}app-1.1.0.tgz`);
      expect(new Uint8Array(await got.arrayBuffer())).toEqual(versions[1]);
      for (const version of ["1.0.0", "1.1.0"]) expect((await s3("DELETE", `/${bucket}/${prefix}app-${version}.tgz`)).status).toBe(204);
    }
    const empty = await expectTotalsMatchStorage(bucket);
    expect([empty.storedBytes, empty.referenceBytes, empty.byType.reference.objects]).toEqual([0, 0, 0]);
    expect((await env.BUCKET.list({ prefix: dataRoot(bucket) })).objects).toEqual([]);
  });
});
