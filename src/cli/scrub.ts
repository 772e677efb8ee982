// `npm run scrub -- <bucket> [prefix] [--background]`: prove every stored object of a bucket (or prefix) against
// its recorded SHA-256 through POST /_/scrub, page after page (each bounded by the Worker), printing damaged
// objects as they are found. Exit status 1 when anything is damaged. `--background` starts a run the Worker's
// cron continues (see its report with `npm run scrub -- <bucket> --report`). Endpoint and key: src/cli/admin-client.ts.
import { adminClient, query } from "./admin-client";

interface Finding { key: string; storedKey: string; kind: string; reason: string }
interface PageAnswer {
  page: { checked: number; verified: number; unverifiable: number; bytes: number; damaged: Finding[] };
  done: boolean;
  cursor: string | null;
}

async function main(args: string[]): Promise<number> {
  const flags = new Set(args.filter((a) => a.startsWith("--")));
  const [bucket, prefix] = args.filter((a) => !a.startsWith("--"));
  if (!bucket) {
    console.error("usage: npm run scrub -- <bucket> [prefix] [--background | --report]");
    return 2;
  }
  const client = adminClient();
  if (flags.has("--report")) {
    console.log(JSON.stringify(await client.call("GET", `/_/scrub?${query({ bucket })}`), null, 2));
    return 0;
  }
  if (flags.has("--background")) {
    console.log(JSON.stringify(await client.call("POST", `/_/scrub?${query({ bucket, prefix, background: "1" })}`), null, 2));
    return 0;
  }
  const totals = { checked: 0, verified: 0, unverifiable: 0, damaged: 0, bytes: 0 };
  let cursor: string | undefined;
  for (;;) {
    const answer = await client.call("POST", `/_/scrub?${query({ bucket, prefix: cursor ? undefined : prefix, cursor })}`) as PageAnswer;
    const { page } = answer;
    totals.checked += page.checked;
    totals.verified += page.verified;
    totals.unverifiable += page.unverifiable;
    totals.bytes += page.bytes;
    totals.damaged += page.damaged.length;
    for (const finding of page.damaged) console.log(`DAMAGED ${finding.kind.padEnd(9)} ${finding.storedKey}: ${finding.reason}`);
    process.stderr.write(`\r${totals.checked} checked, ${totals.damaged} damaged, ${(totals.bytes / 1048576).toFixed(1)} MiB read`);
    if (answer.done || !answer.cursor) break;
    cursor = answer.cursor;
  }
  process.stderr.write("\n");
  console.log(`${bucket}${prefix ? `/${prefix}` : ""}: ${totals.checked} stored objects checked, ${totals.verified} verified, `
    + `${totals.unverifiable} without a recorded SHA-256, ${totals.damaged} damaged`);
  return totals.damaged > 0 ? 1 : 0;
}

main(process.argv.slice(2)).then((code) => process.exit(code), (error) => {
  console.error(String(error instanceof Error ? error.message : error));
  process.exit(2);
});
