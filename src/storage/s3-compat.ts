// Conditional PUTs on S3-compatible servers that do them differently from AWS, learned from the server's
// answers and remembered per backend instance (measured on Ceph RGW 16):
// - a 501 to `If-None-Match: *` → create-only-if-absent is emulated by HEAD-then-PUT from then on;
// - a 412 to a quoted ETag in `If-Match` while the object has exactly that ETag → bare ETags from then on.
// (The other adaptation, a 501 to DeleteObjects → single DELETEs, is one branch of S3Backend.deleteBatch.)
import { S3Error } from "../errors";
import type { PutOptions, StoredObject } from "./backend";

/** How conditional creates (`onlyIfAbsent`) reach the server. */
export type ConditionalWrites =
  /** Send `If-None-Match: *` (AWS S3 since 2024-08, R2, Ceph RGW, current MinIO): atomic. */
  | "native"
  /** HEAD, then PUT if absent: for servers that ignore or refuse If-None-Match. Not atomic (see docs). */
  | "emulated";

type PutBody = ReadableStream<Uint8Array> | Uint8Array;
type PutAgain = () => Promise<StoredObject | null>;

export class ServerAdaptations {
  /** How this server wants ETags in If-Match on PUT (see afterQuotedEtagRefused). */
  private putEtagForm: "quoted" | "bare" = "quoted";

  /** `name` prefixes log lines; `conditionalWrites` is the configured starting point. */
  constructor(private readonly name: string, private conditionalWrites: ConditionalWrites) {}

  /** Whether a create-only-if-absent must first HEAD the key (not atomic). */
  get emulatesConditionalCreates(): boolean {
    return this.conditionalWrites === "emulated";
  }

  /** The precondition header of a PUT with these options, in the form this server takes. */
  conditionHeaders(options: PutOptions): Record<string, string> {
    if (options.onlyIfAbsent && this.conditionalWrites === "native") return { "if-none-match": "*" };
    if (options.onlyIfEtag) {
      return { "if-match": this.putEtagForm === "quoted" ? `"${options.onlyIfEtag}"` : options.onlyIfEtag };
    }
    return {};
  }

  /** The server answered 501 to If-None-Match: remember that, and create by HEAD-then-PUT from now on. */
  async afterNativeConditionalsRefused(body: PutBody, putAgain: PutAgain): Promise<StoredObject | null> {
    console.warn(`[${this.name}] server refuses If-None-Match on PUT; using HEAD-then-PUT (conditionalWrites=emulated)`);
    this.conditionalWrites = "emulated";
    if (body instanceof ReadableStream) {
      throw new S3Error("InternalError", "The storage backend does not support conditional writes; please retry.");
    }
    return putAgain();
  }

  /** Whether a 412 to If-Match may be this server refusing the quoted form (see afterQuotedEtagRefused). */
  get mayRefuseQuotedEtags(): boolean {
    return this.putEtagForm === "quoted";
  }

  /**
   * RFC 9110 and AWS take a quoted ETag in If-Match, but some servers (Ceph RGW 16) compare the bare hex on
   * PUT and refuse a quoted one that does match. When a 412 comes back while the object still has exactly
   * the expected ETag, switch this instance to bare ETags and write again (a one-shot stream cannot be
   * sent again: that one call fails with a retryable error). Otherwise the 412 stands (null).
   */
  async afterQuotedEtagRefused(
    current: StoredObject | null, expectedEtag: string, body: PutBody, putAgain: PutAgain,
  ): Promise<StoredObject | null> {
    if (!current || current.etag !== expectedEtag) return null;
    console.warn(`[${this.name}] server refuses quoted ETags in If-Match on PUT; sending bare ETags from now on`);
    this.putEtagForm = "bare";
    if (body instanceof ReadableStream) {
      throw new S3Error("InternalError", "The storage backend refused a conditional write; please retry.");
    }
    return putAgain();
  }
}
