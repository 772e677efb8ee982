// The request path exactly as the client sent it (as far as the runtime lets us see it). The signature is
// checked against this text and the bucket and key are read from the same text, so a request can never be
// verified for one path and run against another: `new URL()` would resolve `.`/`..` segments (also
// percent-encoded ones) and rewrite a key like `a/../b` into `b`, or `pub/uploads/../../priv/x` into another
// bucket. (Cloudflare's edge and workerd already resolve dot segments in `request.url`; a client that signed
// the unresolved path then fails the signature check, which is the point: the request is refused, not rewritten.)

/** The path of `requestUrl` (its text up to `?` or `#`), not normalised; "/" when it has none. */
export function rawPathOf(requestUrl: string): string {
  const afterScheme = requestUrl.indexOf("//");
  const pathStart = requestUrl.indexOf("/", afterScheme + 2);
  if (pathStart < 0) return "/";
  const end = requestUrl.slice(pathStart).search(/[?#]/);
  return end < 0 ? requestUrl.slice(pathStart) : requestUrl.slice(pathStart, pathStart + end);
}
