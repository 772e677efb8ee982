import { it, expect } from "vitest";
import { createHash } from "node:crypto";
it("node side", () => { expect(createHash("sha256").update("").digest("hex").length).toBe(64); });
