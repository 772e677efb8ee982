export interface Env { BUCKET: R2Bucket }
export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    return new Response("ok");
  },
} satisfies ExportedHandler<Env>;
