// The savings totals with compressed-aware deltas on (DG_COMPRESSED_DELTAS=true): a deltaspace's inflated
// reference (`<deltaspace>/.dg/reference.inflated.bin`, at the bucket root `.dg/reference.inflated.bin`) is one of
// its reference objects, so GET /_/stats counts its bytes as reference bytes and still equals what is stored
// (summed from the R2 binding's own listing, helpers/stored-totals.ts): after the PUT that made it, after more
// versions, after a rebuild scan, and after the deletes that collect it.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { npmGzip, packageFiles, tarOf } from "./helpers/artifacts";
import { s3Compressed as s3, uniqueBucket } from "./s3-support";
import { expectTotalsEqual, storedTotals } from "./helpers/stored-totals";

/** Where a runtime bucket's objects live in the BUCKET binding (DG_RUNTIME_BUCKETS default `BUCKET:.dg/buckets/`). */
const dataRoot = (bucket: string) => `.dg/buckets/data/${bucket}/`;

async function stats(bucket: string): Promise<any> {
  const response = await s3("GET", `/_/stats?bucket=${bucket}`);
  expect(response.status).toBe(200);
  return response.json();
}

async function expectTotalsMatchStorage(bucket: string): Promise<any> {
  const logicalSize = async (key: string) => Number((await s3("HEAD", `/${bucket}/${key}`)).headers.get("content-length"));
  const [expected, shown] = await Promise.all([storedTotals(env.BUCKET, dataRoot(bucket), logicalSize), stats(bucket)]);
  expectTotalsEqual(shown, expected);
  return shown;
}

async function put(bucket: string, key: string, body: Uint8Array): Promise<string> {
  const response = await s3("PUT", `/${bucket}/${key}`, { body });
  expect(response.status).toBe(200);
  return response.headers.get("x-amz-storage-type")!;
}

async function inflatedSize(bucket: string, deltaspace: string): Promise<number> {
  const head = await env.BUCKET.head(`${dataRoot(bucket)}${deltaspace ? `${deltaspace}/` : ""}.dg/reference.inflated.bin`);
  expect(head, `inflated reference of "${deltaspace}"`).not.toBeNull();
  return head!.size;
}

function row(shown: any, deltaspace: string): any {
  return shown.deltaspaces.find((d: any) => d.deltaspace === deltaspace);
}

const versions = Array.from({ length: 3 }, (_, minor) => npmGzip(tarOf(packageFiles(minor))));

describe("savings totals with compressed-aware deltas", () => {
  it("count the inflated reference as reference bytes of its deltaspace (nested and at the root), through a rebuild scan and the deletes that collect it", async () => {
    const bucket = uniqueBucket("inflated");
    expect((await s3("PUT", `/${bucket}`)).status).toBe(200);
    for (const prefix of ["pkg/app/", ""]) {
      expect(await put(bucket, `${prefix}app-1.0.0.tgz`, versions[0])).toBe("Reference");
      const referenceOnly = row(await expectTotalsMatchStorage(bucket), prefix.slice(0, -1));
      expect(await put(bucket, `${prefix}app-1.1.0.tgz`, versions[1])).toBe("Delta");
      const inflated = await inflatedSize(bucket, prefix.slice(0, -1));
      const shown = row(await expectTotalsMatchStorage(bucket), prefix.slice(0, -1));
      // The second version's PUT made the inflated reference: it is booked with it, not found later.
      expect(shown.referenceBytes - referenceOnly.referenceBytes).toBe(inflated);
      expect(await put(bucket, `${prefix}app-1.2.0.tgz`, versions[2])).toBe("Delta");
      expect(row(await expectTotalsMatchStorage(bucket), prefix.slice(0, -1)).referenceBytes).toBe(shown.referenceBytes);
    }
    const live = await stats(bucket);
    expect(live.byType.reference.objects).toBe(4); // two reference.bin, two inflated references

    // A rebuild scan from storage attributes both inflated references to their deltaspaces.
    let cursor: string | null = null;
    let step: any;
    do {
      const response = await s3("POST", `/_/stats/rebuild?bucket=${bucket}&limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
      expect(response.status).toBe(200);
      step = await response.json();
      cursor = step.cursor;
    } while (!step.done);
    const rebuilt = await expectTotalsMatchStorage(bucket);
    expect(rebuilt.byType).toEqual(live.byType);

    for (const prefix of ["pkg/app/", ""]) {
      for (const version of ["1.0.0", "1.1.0", "1.2.0"]) expect((await s3("DELETE", `/${bucket}/${prefix}app-${version}.tgz`)).status).toBe(204);
    }
    const empty = await expectTotalsMatchStorage(bucket);
    expect([empty.storedBytes, empty.referenceBytes, empty.byType.reference.objects]).toEqual([0, 0, 0]);
  });
});
