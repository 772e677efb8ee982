// A native multipart upload on the remote S3 server (UploadPart, CompleteMultipartUpload, Abort), as the
// Backend interface's BackendMultipart. A Complete whose answer was lost and whose retry meets NoSuchUpload
// counts as done when the object now exists with a "-<parts>" ETag.
import { S3Error } from "../errors";
import type { Backend, BackendMultipart, MultipartPart, StoredObject } from "./backend";
import { CLIENT_VISIBLE_CODES, drain, readText, type S3Caller } from "./s3-call";
import { contentMd5, md5Hex, unquote } from "./s3-headers";
import type { S3Urls } from "./s3-urls";
import { completeRequestBody, parseEmbeddedError } from "./s3-xml";

export class S3Multipart implements BackendMultipart {
  constructor(
    private readonly caller: S3Caller,
    private readonly urls: S3Urls,
    /** For the checks after Complete. */
    private readonly backend: Pick<Backend, "head">,
    readonly key: string,
    readonly uploadId: string,
  ) {}

  async uploadPart(
    partNumber: number, body: ReadableStream<Uint8Array> | Uint8Array, length: number,
  ): Promise<MultipartPart> {
    const headers: Record<string, string> = {};
    if (body instanceof Uint8Array) {
      if (body.byteLength !== length) throw new S3Error("IncompleteBody", "The part is not as long as declared.");
      headers["content-md5"] = contentMd5(await md5Hex(body));
    }
    const { response, watchdog } = await this.caller.call({
      op: "UploadPart", method: "PUT", headers,
      url: this.urls.object(this.key, { partNumber: String(partNumber), uploadId: this.uploadId }),
      ...(body instanceof Uint8Array ? { bytes: body, retry: true } : { stream: { body, length }, retry: false }),
    });
    watchdog.stop();
    await drain(response);
    return { partNumber, etag: unquote(response.headers.get("etag") ?? "") };
  }

  async complete(parts: MultipartPart[]): Promise<StoredObject> {
    const bytes = new TextEncoder().encode(completeRequestBody(parts));
    const { response, watchdog, ambiguous } = await this.caller.call({
      op: "CompleteMultipartUpload", method: "POST", url: this.urls.object(this.key, { uploadId: this.uploadId }),
      headers: { "content-type": "application/xml" }, bytes, retry: true,
      accept: (status, code) => status === 404 && code === "NoSuchUpload",
    });
    if (response.status === 404) {
      watchdog.stop();
      // Our earlier attempt may have completed the upload before its answer was lost.
      const stored = ambiguous ? await this.backend.head(this.key) : null;
      if (stored && stored.etag.endsWith(`-${parts.length}`)) return stored;
      throw new S3Error("NoSuchUpload", CLIENT_VISIBLE_CODES.get("NoSuchUpload")!);
    }
    // S3 may answer 200 and still fail: the error is then in the body.
    const error = parseEmbeddedError(await readText(response, watchdog));
    if (error) throw this.caller.failure("CompleteMultipartUpload", this.key, { status: 200, code: error.code });
    const stored = await this.backend.head(this.key);
    if (!stored) throw this.caller.failure("CompleteMultipartUpload", this.key, { code: "MissingAfterComplete" });
    return stored;
  }

  async abort(): Promise<void> {
    const { response, watchdog } = await this.caller.call({
      op: "AbortMultipartUpload", method: "DELETE", retry: true,
      url: this.urls.object(this.key, { uploadId: this.uploadId }),
      accept: (status) => status === 404,
    });
    watchdog.stop();
    await drain(response);
  }
}
