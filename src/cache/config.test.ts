import { describe, expect, it } from "vitest";
import { parseCacheConfig } from "./config";

describe("cache settings", () => {
  it("defaults to an enabled cache of 4 MiB blocks kept 30 days, with rebuilt objects up to 128 MiB kept", () => {
    expect(parseCacheConfig({})).toEqual({ enabled: true, blockSize: 4 * 1024 * 1024, ttlSeconds: 2592000, rebuiltMaxSize: 128 * 1024 * 1024 });
  });

  it("keeps rebuilt objects up to DG_CACHE_REBUILT_MAX_SIZE, at most 512 MiB", () => {
    expect(parseCacheConfig({ DG_CACHE_REBUILT_MAX_SIZE: "64M" }).rebuiltMaxSize).toBe(64 * 1024 * 1024);
    expect(parseCacheConfig({ DG_CACHE_REBUILT_MAX_SIZE: "0" }).rebuiltMaxSize).toBe(0);
    expect(() => parseCacheConfig({ DG_CACHE_REBUILT_MAX_SIZE: "600M" })).toThrow(/DG_CACHE_REBUILT_MAX_SIZE/);
  });

  it("accepts byte counts with K/M suffixes and switches", () => {
    expect(parseCacheConfig({ DG_CACHE_ENABLED: "false", DG_CACHE_BLOCK_SIZE: "8M", DG_CACHE_TTL_SECONDS: "3600" }))
      .toEqual({ enabled: false, blockSize: 8 * 1024 * 1024, ttlSeconds: 3600, rebuiltMaxSize: 128 * 1024 * 1024 });
    expect(parseCacheConfig({ DG_CACHE_BLOCK_SIZE: "512KiB" }).blockSize).toBe(512 * 1024);
  });

  it("names the variable in the error for a bad value", () => {
    expect(() => parseCacheConfig({ DG_CACHE_BLOCK_SIZE: "lots" })).toThrow(/DG_CACHE_BLOCK_SIZE/);
    expect(() => parseCacheConfig({ DG_CACHE_BLOCK_SIZE: "1K" })).toThrow(/DG_CACHE_BLOCK_SIZE/);
    expect(() => parseCacheConfig({ DG_CACHE_ENABLED: "maybe" })).toThrow(/DG_CACHE_ENABLED/);
    expect(() => parseCacheConfig({ DG_CACHE_TTL_SECONDS: "-5" })).toThrow(/DG_CACHE_TTL_SECONDS/);
  });
});
