import { exports, env } from "cloudflare:workers";
import { it, expect } from "vitest";
it("worker answers", async () => {
  const r = await exports.default.fetch("http://x/");
  expect(await r.text()).toBe("ok");
  await env.BUCKET.put("a", "b");
  expect(await (await env.BUCKET.get("a"))!.text()).toBe("b");
});
