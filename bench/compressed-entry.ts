// The Worker as bench/compressed.ts runs it: the real Worker (src/index.ts), plus `GET /_/stored?prefix=P`
// answering the raw backend keys and sizes under P (internal objects included), so the bench can tell the
// deltas from the deltaspace's inflated reference. Bench only: never deployed.
import worker, { BucketCoordinator, MetricsAggregator } from "../src/index";

// wrangler refuses an entry that does not export every Durable Object class wrangler.toml binds.
export { BucketCoordinator, MetricsAggregator };

export default {
  async fetch(request: Request, env: Record<string, unknown>, ctx: ExecutionContext): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname !== "/_/stored") return worker.fetch(request, env as never, ctx);
    const bucket = env.BUCKET as R2Bucket;
    const objects: Record<string, number> = {};
    let cursor: string | undefined;
    do {
      const page = await bucket.list({ prefix: url.searchParams.get("prefix") ?? "", cursor });
      for (const object of page.objects) objects[object.key] = object.size;
      cursor = page.truncated ? page.cursor : undefined;
    } while (cursor);
    return Response.json(objects);
  },
};
