// Where a request to the remote S3 server goes: the bucket's and an object's URL, path style
// (`https://host/bucket/key`) or virtual-hosted style (`https://bucket.host/key`), with a query string encoded
// the way SigV4 and S3 expect.
import { uriEncode } from "../encoding";
import { S3Error } from "../errors";

export interface S3Location {
  /** Scheme, host, optional port and base path, e.g. `https://s3.eu-central-1.amazonaws.com`. */
  endpoint: string;
  /** The bucket name on the remote server. */
  bucket: string;
  /** `https://host/bucket/key` (true) or `https://bucket.host/key` (false). */
  pathStyle: boolean;
}

export type Query = Record<string, string | undefined>;

export class S3Urls {
  private readonly base: URL;

  constructor(private readonly location: S3Location) {
    this.base = new URL(location.endpoint);
  }

  /** For logs and stats: `s3:<origin>/<bucket>`. */
  get name(): string {
    return `s3:${this.base.origin}/${this.location.bucket}`;
  }

  object(key: string, query?: Query): string {
    const path = this.bucketPath() + "/" + key.split("/").map(encodeURIComponent).join("/");
    const url = new URL(this.origin() + path + queryString(query));
    // The URL parser folds "." and ".." segments; S3 would then see another key. Refuse instead.
    if (url.pathname !== path) {
      throw new S3Error("InvalidArgument", "This storage backend cannot store keys with '.' or '..' path segments.");
    }
    return url.toString();
  }

  bucket(query?: Query): string {
    return this.origin() + (this.bucketPath() || "/") + queryString(query);
  }

  private origin(): string {
    return this.location.pathStyle ? this.base.origin : `${this.base.protocol}//${this.location.bucket}.${this.base.host}`;
  }

  private bucketPath(): string {
    const basePath = this.base.pathname.replace(/\/+$/, "");
    return this.location.pathStyle ? `${basePath}/${encodeURIComponent(this.location.bucket)}` : basePath;
  }
}

/** The key (or bucket path) a URL addresses, for logs. */
export function keyOfUrl(url: string): string {
  return decodeURIComponent(new URL(url).pathname);
}

function queryString(query?: Query): string {
  if (!query) return "";
  const parts = Object.entries(query)
    .filter((entry): entry is [string, string] => entry[1] !== undefined)
    .map(([name, value]) => (value === "" ? uriEncode(name) : `${uriEncode(name)}=${uriEncode(value)}`));
  return parts.length ? `?${parts.join("&")}` : "";
}
