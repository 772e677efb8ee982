// globalSetup of the "workerd-remote-s3" project: makes sure the remote bucket behind that project's bucket
// `default` exists on the S3 server and starts empty, as the R2 binding does in each run (see
// vitest.config.ts and test/setup/remote-suite.ts).
import { AwsClient } from "aws4fetch";
import { createHash } from "node:crypto";
import { REMOTE_SUITE } from "./remote-suite";

const client = new AwsClient({
  accessKeyId: REMOTE_SUITE.S3_ACCESS_KEY_ID, secretAccessKey: REMOTE_SUITE.S3_SECRET_ACCESS_KEY,
  service: "s3", region: REMOTE_SUITE.S3_REGION, retries: 0,
});
const bucketUrl = `${REMOTE_SUITE.S3_ENDPOINT}/${REMOTE_SUITE.S3_BUCKET}`;

export default async function setup() {
  const created = await client.fetch(bucketUrl, { method: "PUT" });
  const text = await created.text();
  if (!created.ok && !text.includes("BucketAlreadyOwnedByYou")) {
    throw new Error(`creating ${REMOTE_SUITE.S3_BUCKET} on ${REMOTE_SUITE.S3_ENDPOINT}: ${created.status} ${text}`);
  }
  await emptyBucket();
}

const XML_ENTITIES: Record<string, string> = { "&amp;": "&", "&lt;": "<", "&gt;": ">", "&quot;": '"', "&apos;": "'" };

async function emptyBucket() {
  let previous = "";
  for (;;) {
    const listing = await (await client.fetch(`${bucketUrl}?list-type=2&max-keys=1000&encoding-type=url`)).text();
    const keys = [...listing.matchAll(/<Key>([^<]*)<\/Key>/g)].map((m) =>
      decodeURIComponent(m[1].replace(/&(amp|lt|gt|quot|apos);/g, (e) => XML_ENTITIES[e]).replace(/\+/g, " ")));
    if (keys.length === 0) return;
    if (keys.join("\n") === previous) throw new Error(`emptying ${REMOTE_SUITE.S3_BUCKET}: keys survive deletion: ${keys.slice(0, 3).join(", ")}`);
    previous = keys.join("\n");
    const escape = (key: string) => key.replace(/[&<>"'\r\n\t]/g, (c) => `&#${c.charCodeAt(0)};`);
    const body = `<Delete><Quiet>true</Quiet>${keys.map((k) => `<Object><Key>${escape(k)}</Key></Object>`).join("")}</Delete>`;
    const md5 = createHash("md5").update(body).digest("base64");
    const deleted = await client.fetch(`${bucketUrl}?delete`, { method: "POST", body, headers: { "content-md5": md5 } });
    if (!deleted.ok) throw new Error(`emptying ${REMOTE_SUITE.S3_BUCKET}: ${deleted.status} ${await deleted.text()}`);
    await deleted.arrayBuffer();
  }
}
