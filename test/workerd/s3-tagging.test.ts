// Tagging over the Worker's fetch handler: clients read tags (aws-cli before every bucket-side copy), we store
// none — an object answers an empty TagSet, a bucket answers NoSuchTagSet, writing tags stays NotImplemented.
import { describe, expect, it } from "vitest";
import { errorOf, s3, xmlOf } from "./s3-support";

const B = "/default";

describe("GetObjectTagging", () => {
  it("answers an existing object with an empty TagSet in the S3 namespace", async () => {
    expect((await s3("PUT", `${B}/tagging/present.txt`, { body: "hello" })).status).toBe(200);
    const response = await s3("GET", `${B}/tagging/present.txt?tagging`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("application/xml");
    const text = await response.text();
    expect(text).toMatch(/<Tagging xmlns="http:\/\/s3\.amazonaws\.com\/doc\/2006-03-01\/">/);
    expect(text).toMatch(/<TagSet\s*\/>|<TagSet><\/TagSet>/);
    expect(text).not.toContain("<Tag>");
  });

  it("answers a missing object with NoSuchKey", async () => {
    const response = await s3("GET", `${B}/tagging/absent.txt?tagging`);
    expect(response.status).toBe(404);
    expect((await errorOf(response)).Code).toBe("NoSuchKey");
  });

  it("PutObjectTagging and DeleteObjectTagging stay NotImplemented and change nothing", async () => {
    await s3("PUT", `${B}/tagging/kept.txt`, { body: "kept" });
    const tagging = `<Tagging xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><TagSet><Tag><Key>a</Key><Value>b</Value></Tag></TagSet></Tagging>`;
    const put = await s3("PUT", `${B}/tagging/kept.txt?tagging`, { body: tagging });
    expect(put.status).toBe(501);
    expect((await errorOf(put)).Code).toBe("NotImplemented");
    const remove = await s3("DELETE", `${B}/tagging/kept.txt?tagging`);
    expect(remove.status).toBe(501);
    const got = await s3("GET", `${B}/tagging/kept.txt`);
    expect(await got.text()).toBe("kept");
  });
});

describe("GetBucketTagging", () => {
  it("answers an existing bucket with NoSuchTagSet (404)", async () => {
    const response = await s3("GET", `${B}?tagging`);
    expect(response.status).toBe(404);
    const error = await errorOf(response);
    expect(error.Code).toBe("NoSuchTagSet");
    expect(error.BucketName).toBe("default");
  });

  it("answers a missing bucket with NoSuchBucket", async () => {
    const response = await s3("GET", `/no-such-bucket-tagging?tagging`);
    expect(response.status).toBe(404);
    expect((await errorOf(response)).Code).toBe("NoSuchBucket");
  });

  it("PutBucketTagging stays NotImplemented", async () => {
    const response = await s3("PUT", `${B}?tagging`, { body: "<Tagging><TagSet/></Tagging>" });
    expect(response.status).toBe(501);
    expect((await errorOf(response)).Code).toBe("NotImplemented");
  });
});

describe("an object copy as aws-cli does it", () => {
  it("reads the source's tags, then copies it", async () => {
    await s3("PUT", `${B}/tagging/source.bin`, { body: "payload" });
    expect((await s3("GET", `${B}/tagging/source.bin?tagging`)).status).toBe(200);
    const copy = await s3("PUT", `${B}/tagging/copy.bin`, { headers: { "x-amz-copy-source": "/default/tagging/source.bin" } });
    expect(copy.status).toBe(200);
    expect(await (await s3("GET", `${B}/tagging/copy.bin`)).text()).toBe("payload");
  });
});
