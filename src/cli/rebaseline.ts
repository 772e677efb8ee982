// `npm run rebaseline -- <bucket> <deltaspace> [reference-key] [--evaluate]`: move a deltaspace onto a better
// reference through POST /_/rebaseline (the chosen key, or the best by the Worker's estimate), calling again
// until the Worker reports it done; prints each step and the stored sizes before and after. `--evaluate` only
// prints the estimate (GET /_/rebaseline). An interrupted run is resumed by running the same command again.
// Endpoint and key: src/cli/admin-client.ts.
import { adminClient, query } from "./admin-client";

interface Usage { objects: number; logicalBytes: number; storedBytes: number; savedPercent: number }
interface Progress {
  reference: string;
  done: boolean;
  steps: Array<{ action: string; key?: string; outcome: string }>;
  before: Usage;
  after: Usage | null;
}

const mib = (bytes: number) => `${(bytes / 1048576).toFixed(2)} MiB`;

async function main(args: string[]): Promise<number> {
  const evaluateOnly = args.includes("--evaluate");
  const [bucket, deltaspace, reference] = args.filter((a) => !a.startsWith("--"));
  if (!bucket || deltaspace === undefined) {
    console.error("usage: npm run rebaseline -- <bucket> <deltaspace> [reference-key] [--evaluate]   (deltaspace \"\" = the bucket root)");
    return 2;
  }
  const client = adminClient();
  if (evaluateOnly) {
    console.log(JSON.stringify(await client.call("GET", `/_/rebaseline?${query({ bucket, deltaspace })}`), null, 2));
    return 0;
  }
  for (;;) {
    const progress = await client.call("POST", `/_/rebaseline?${query({ bucket, deltaspace, reference })}`) as Progress;
    for (const step of progress.steps) console.log(`${step.action.padEnd(7)} ${step.key ?? ""} ${step.outcome}`);
    if (!progress.done) continue;
    const { before, after } = progress;
    console.log(`${bucket}/${deltaspace}: reference ${progress.reference}; stored ${mib(before.storedBytes)} (${before.savedPercent} % saved) → `
      + `${mib(after!.storedBytes)} (${after!.savedPercent} % saved) for ${mib(after!.logicalBytes)} of objects`);
    return 0;
  }
}

main(process.argv.slice(2)).then((code) => process.exit(code), (error) => {
  console.error(String(error instanceof Error ? error.message : error));
  process.exit(2);
});
