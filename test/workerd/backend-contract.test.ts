// The storage contract (src/storage/backend.ts), run case for case against both backends: the R2 binding
// (workerd's real local R2) and the remote S3 backend talking to a real S3 server (Ceph radosgw, strict
// SigV4). The engine is written against this contract only, so whatever passes here behaves the same on
// either. The S3 half skips, with the reason, when no S3 server is available (see test/setup/remote-s3.ts).
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import type { Backend } from "../../src/storage/backend";
import { R2Backend } from "../../src/storage/r2";
import { randomBytes } from "../fixtures/random";
import { backendFor, createRemoteBucket, remoteS3, remoteS3SkipReason } from "./helpers/remote-s3";

const r2Bucket = (env as unknown as { BUCKET: R2Bucket }).BUCKET;

interface Subject {
  label: string;
  skip: string;
  make: () => Promise<Backend>;
}

const subjects: Subject[] = [
  { label: "R2 binding", skip: "", make: async () => new R2Backend(r2Bucket, "BUCKET") },
  {
    label: "remote S3 (radosgw)",
    skip: remoteS3 ? "" : remoteS3SkipReason,
    make: async () => backendFor(await createRemoteBucket("contract")),
  },
];

const MiB = 1024 * 1024;

function bytes(length: number, seed: number): Uint8Array {
  return randomBytes(length, seed * 2654435761);
}

/** A stream that delivers `data` in chunks of `chunk` bytes, like a request body arriving. */
function chunked(data: Uint8Array, chunk = 64 * 1024): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream({
    pull(controller) {
      if (offset >= data.length) return controller.close();
      controller.enqueue(data.slice(offset, offset + chunk));
      offset += chunk;
    },
  });
}

/** A stream that sends `sent` bytes and then fails, like a client connection dropping mid-upload. */
function failingAfter(data: Uint8Array): ReadableStream<Uint8Array> {
  let sent = false;
  return new ReadableStream({
    pull(controller) {
      if (sent) return controller.error(new Error("client went away"));
      controller.enqueue(data);
      sent = true;
    },
  });
}

async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** Compares big buffers by digest: vitest's deep equality is far too slow (and noisy) for megabytes. */
async function expectSameBytes(actual: Uint8Array, expected: Uint8Array) {
  expect(actual.length).toBe(expected.length);
  expect(await md5(actual)).toBe(await md5(expected));
}

async function md5(data: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("MD5", data);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

for (const subject of subjects) {
  describe.skipIf(subject.skip !== "")(`storage contract: ${subject.label}${subject.skip ? ` (${subject.skip})` : ""}`, () => {
    let backend: Backend;
    // Every run writes under its own prefix (the R2 binding is shared by all test files).
    const root = `contract-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}/`;

    beforeAll(async () => {
      backend = await subject.make();
    });

    it("a stored object reads back byte-exact with its size, MD5 ETag, metadata and content type", async () => {
      const data = bytes(300_000, 2);
      const put = await backend.put(`${root}a/obj.bin`, data, data.length, {
        metadata: { "dg-tool": "deltaglider-worker/test", "dg-file-size": String(data.length) },
        contentType: "application/x-test",
      });
      expect(put).not.toBeNull();
      expect(put!.etag).toBe(await md5(data));
      expect(put!.size).toBe(data.length);

      const head = await backend.head(`${root}a/obj.bin`);
      expect(head).toMatchObject({ key: `${root}a/obj.bin`, size: data.length, etag: await md5(data), contentType: "application/x-test" });
      expect(head!.metadata).toMatchObject({ "dg-tool": "deltaglider-worker/test", "dg-file-size": "300000" });
      expect(head!.lastModified.getTime()).toBeGreaterThan(Date.now() - 10 * 60_000);

      const got = await backend.get(`${root}a/obj.bin`);
      expect(got!.metadata["dg-tool"]).toBe("deltaglider-worker/test");
      await expectSameBytes(await readAll(got!.body), data);
    });

    it("metadata values with non-ASCII text and inner spaces survive the round trip", async () => {
      const metadata = { "user-title": "Größe – 測試", "user-note": "two  spaces and a trailing one ", "user-plain": "ok" };
      await backend.put(`${root}meta.txt`, "x", 1, { metadata });
      expect((await backend.head(`${root}meta.txt`))!.metadata).toMatchObject(metadata);
    });

    it("ranged reads return exactly the bytes asked for and report the range served", async () => {
      const data = bytes(100_000, 3);
      await backend.put(`${root}range.bin`, data, data.length);
      const middle = await backend.get(`${root}range.bin`, { offset: 1000, length: 5000 });
      expect(middle!.range).toEqual({ offset: 1000, length: 5000 });
      expect(middle!.size).toBe(data.length);
      await expectSameBytes(await readAll(middle!.body), data.slice(1000, 6000));

      const tail = await backend.get(`${root}range.bin`, { offset: 99_000 });
      expect(tail!.range).toEqual({ offset: 99_000, length: 1000 });
      expect(await readAll(tail!.body)).toEqual(data.slice(99_000));

      const suffix = await backend.get(`${root}range.bin`, { suffix: 10 });
      expect(suffix!.range).toEqual({ offset: 99_990, length: 10 });
      expect(await readAll(suffix!.body)).toEqual(data.slice(99_990));
    });

    it("a missing key is null for head and get, not an error", async () => {
      expect(await backend.head(`${root}nope`)).toBeNull();
      expect(await backend.get(`${root}nope`)).toBeNull();
      expect(await backend.get(`${root}nope`, { offset: 0, length: 1 })).toBeNull();
    });

    it("a streamed body of known length is stored byte-exact without buffering it first", async () => {
      const data = bytes(6 * MiB + 123, 4);
      const put = await backend.put(`${root}stream.bin`, chunked(data), data.length, { metadata: { "dg-note": "passthrough" } });
      expect(put!.size).toBe(data.length);
      expect(put!.etag).toBe(await md5(data));
      const got = await backend.get(`${root}stream.bin`);
      await expectSameBytes(await readAll(got!.body), data);
    });

    it("an upload whose body is shorter than declared fails and stores nothing", async () => {
      const data = bytes(200_000, 5);
      await expect(backend.put(`${root}short.bin`, chunked(data.slice(0, 150_000)), data.length)).rejects.toThrow();
      expect(await backend.head(`${root}short.bin`)).toBeNull();
    });

    it("an upload whose body is longer than declared fails and stores nothing", async () => {
      const data = bytes(200_000, 6);
      await expect(backend.put(`${root}long.bin`, chunked(data), 150_000)).rejects.toThrow();
      expect(await backend.head(`${root}long.bin`)).toBeNull();
    });

    it("an upload whose client disconnects midway leaves the previous version intact", async () => {
      const before = bytes(50_000, 7);
      await backend.put(`${root}keep.bin`, before, before.length);
      await expect(backend.put(`${root}keep.bin`, failingAfter(bytes(64 * 1024, 8)), 1 * MiB)).rejects.toThrow();
      const got = await backend.get(`${root}keep.bin`);
      await expectSameBytes(await readAll(got!.body), before);
    });

    it("create-only-if-absent writes once and then reports the conflict without overwriting", async () => {
      const first = await backend.put(`${root}ref/reference.bin`, "first", 5, { onlyIfAbsent: true });
      expect(first).not.toBeNull();
      const second = await backend.put(`${root}ref/reference.bin`, "second", 6, { onlyIfAbsent: true });
      expect(second).toBeNull();
      const streamed = await backend.put(`${root}ref/reference.bin`, chunked(bytes(10, 9)), 10, { onlyIfAbsent: true });
      expect(streamed).toBeNull();
      expect(await new Response((await backend.get(`${root}ref/reference.bin`))!.body).text()).toBe("first");
    });

    it("replace-only-if-ETag-matches refuses a stale ETag and accepts the current one", async () => {
      const v1 = await backend.put(`${root}cas.txt`, "v1", 2);
      expect(await backend.put(`${root}cas.txt`, "v2", 2, { onlyIfEtag: "0123456789abcdef0123456789abcdef" })).toBeNull();
      expect(await backend.put(`${root}cas.txt`, "v2", 2, { onlyIfEtag: v1!.etag })).not.toBeNull();
      expect(await new Response((await backend.get(`${root}cas.txt`))!.body).text()).toBe("v2");
      expect(await backend.put(`${root}cas-missing.txt`, "v1", 2, { onlyIfEtag: v1!.etag })).toBeNull();
    });

    it("listing groups by delimiter, pages with a cursor, and starts after a key", async () => {
      const dir = `${root}list/`;
      const names = ["a.zip", "b.zip", "c.zip", "d.zip", "e.zip", "sub1/x", "sub2/y"];
      for (const name of names) await backend.put(dir + name, name, name.length);

      const top = await backend.list({ prefix: dir, delimiter: "/" });
      expect(top.objects.map((o) => o.key)).toEqual(names.slice(0, 5).map((n) => dir + n));
      expect(top.commonPrefixes).toEqual([`${dir}sub1/`, `${dir}sub2/`]);
      expect(top.truncated).toBe(false);
      expect(top.objects[0]).toMatchObject({ size: 5, etag: await md5(new TextEncoder().encode("a.zip")) });

      const seen: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await backend.list({ prefix: dir, limit: 3, cursor });
        expect(page.objects.length).toBeLessThanOrEqual(3);
        seen.push(...page.objects.map((o) => o.key));
        cursor = page.cursor;
        expect(page.truncated).toBe(cursor !== undefined);
      } while (cursor);
      expect(seen).toEqual(names.map((n) => dir + n));

      const after = await backend.list({ prefix: dir, startAfter: `${dir}c.zip`, delimiter: "/" });
      expect(after.objects.map((o) => o.key)).toEqual([`${dir}d.zip`, `${dir}e.zip`]);
    });

    it("listing with includeMetadata carries each object's metadata", async () => {
      const dir = `${root}listmeta/`;
      await backend.put(`${dir}one`, "1", 1, { metadata: { "dg-note": "delta", "dg-file-size": "10" } });
      await backend.put(`${dir}two`, "2", 1, { metadata: { "dg-note": "passthrough" } });
      const page = await backend.list({ prefix: dir, includeMetadata: true });
      expect(page.objects.map((o) => o.metadata["dg-note"])).toEqual(["delta", "passthrough"]);
      expect(page.objects[0].metadata["dg-file-size"]).toBe("10");
    });

    it("keys with spaces, plus signs, percent signs and non-ASCII characters are stored and listed as given", async () => {
      const dir = `${root}odd keys/`;
      const keys = ["a b.zip", "c+d.zip", "100%.zip", "ünï/çødé.zip", "q?x=1&y.zip", "star*(1)'!.zip"].map((k) => dir + k);
      for (const key of keys) await backend.put(key, key, new TextEncoder().encode(key).length);
      for (const key of keys) expect(await new Response((await backend.get(key))!.body).text()).toBe(key);
      const listed = await backend.list({ prefix: dir });
      expect(listed.objects.map((o) => o.key).sort()).toEqual([...keys].sort());
      const grouped = await backend.list({ prefix: dir, delimiter: "/" });
      expect(grouped.commonPrefixes).toEqual([`${dir}ünï/`]);
    });

    it("batch delete removes every listed key and ignores keys that do not exist", async () => {
      const dir = `${root}del/`;
      const keys = Array.from({ length: 25 }, (_, i) => `${dir}k${String(i).padStart(2, "0")} &<x>`);
      for (const key of keys) await backend.put(key, "x", 1);
      await backend.delete([...keys, `${dir}never-existed`]);
      expect((await backend.list({ prefix: dir })).objects).toEqual([]);
      await backend.delete([`${dir}never-existed`]);
      await backend.delete([]);
    });

    it("a multipart upload becomes visible only when completed, byte-exact, with an S3-style ETag", async () => {
      const part1 = bytes(5 * MiB, 10);
      const part2 = bytes(1234, 11);
      const upload = await backend.createMultipart(`${root}mpu.bin`, { metadata: { "dg-note": "passthrough" }, contentType: "application/zip" });
      const p1 = await upload.uploadPart(1, chunked(part1), part1.length);
      const resumed = backend.resumeMultipart(`${root}mpu.bin`, upload.uploadId);
      const p2 = await resumed.uploadPart(2, part2, part2.length);
      expect(await backend.head(`${root}mpu.bin`)).toBeNull();
      const done = await resumed.complete([p1, p2]);
      expect(done.size).toBe(part1.length + part2.length);
      expect(done.etag).toMatch(/-2$/);
      expect(done.metadata["dg-note"]).toBe("passthrough");
      const got = await backend.get(`${root}mpu.bin`);
      const whole = await readAll(got!.body);
      const joined = new Uint8Array(part1.length + part2.length);
      joined.set(part1);
      joined.set(part2, part1.length);
      await expectSameBytes(whole, joined);
    });

    it("an aborted multipart upload leaves nothing behind and cannot be completed", async () => {
      const upload = await backend.createMultipart(`${root}aborted.bin`);
      const part = await upload.uploadPart(1, bytes(1000, 12), 1000);
      await upload.abort();
      await expect(upload.complete([part])).rejects.toThrow();
      expect(await backend.head(`${root}aborted.bin`)).toBeNull();
    });
  });
}
