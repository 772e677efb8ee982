// The e2e tests' SDK clients (test/e2e/support/sdk.ts) must not send `Expect: 100-continue`: workerd's local
// listener never answers it, so each upload of 1 MB or more would wait out the SDK's 6 s timeout.
// A plain Node server stands in for it here, recording what arrives.
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LOCAL_WORKER_CLIENT_CONFIG, localWorkerClient } from "../e2e/support/sdk";

let server: Server;
let endpoint: string;
const received: IncomingHttpHeaders[] = [];

beforeAll(async () => {
  server = createServer((request, response) => {
    received.push(request.headers);
    request.resume();
    request.on("end", () => response.writeHead(200, { etag: '"0"' }).end());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

async function expectHeaderOfPut(client: S3Client): Promise<string | undefined> {
  received.length = 0;
  await client.send(new PutObjectCommand({ Bucket: "default", Key: "big.bin", Body: new Uint8Array(2 * 1024 * 1024) }));
  client.destroy();
  return received[0]?.expect;
}

describe("SDK clients for the e2e tests", () => {
  it("send a 2 MiB PutObject without Expect: 100-continue", async () => {
    expect(await expectHeaderOfPut(localWorkerClient(endpoint))).toBeUndefined();
  });

  it("(a default client would send it: the setting is what removes it)", async () => {
    const { expectContinueHeader: _, ...defaults } = LOCAL_WORKER_CLIENT_CONFIG;
    expect(await expectHeaderOfPut(new S3Client({ ...defaults, endpoint }))).toBe("100-continue");
  });
});
