// Calls to the Worker's operator endpoints (/_/…) from a CLI: SigV4-signed like the S3 API (aws4fetch, service
// "s3", region us-east-1) with AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (default: the local dev key, which has
// the admin right) against DG_ENDPOINT (default http://127.0.0.1:8787, `npm start`).
import { AwsClient } from "aws4fetch";

export interface AdminClient {
  endpoint: string;
  call(method: string, pathAndQuery: string): Promise<unknown>;
}

export function adminClient(env: NodeJS.ProcessEnv = process.env): AdminClient {
  const endpoint = (env.DG_ENDPOINT ?? "http://127.0.0.1:8787").replace(/\/+$/, "");
  const signer = new AwsClient({
    accessKeyId: env.AWS_ACCESS_KEY_ID ?? "deltaglider",
    secretAccessKey: env.AWS_SECRET_ACCESS_KEY ?? "deltaglider-secret",
    service: "s3",
    region: "us-east-1",
  });
  return {
    endpoint,
    async call(method, pathAndQuery) {
      const response = await signer.fetch(`${endpoint}${pathAndQuery}`, { method });
      const text = await response.text();
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        throw new Error(`${method} ${pathAndQuery}: HTTP ${response.status}, not JSON: ${text.slice(0, 200)}`);
      }
      if (!response.ok) {
        const { error, message } = body as { error?: string; message?: string };
        throw new Error(`${method} ${pathAndQuery}: HTTP ${response.status} ${error ?? ""}: ${message ?? text}`);
      }
      return body;
    },
  };
}

export function query(params: Record<string, string | undefined>): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) if (value !== undefined) search.set(name, value);
  return search.toString();
}
