// The cache section of the configuration: defaults, units, and errors that name their variable.
import { describe, expect, it } from "vitest";
import { ConfigError } from "../errors";
import { parseCacheConfig, type CacheVars } from "./config";

function variableAtFault(vars: CacheVars): string {
  try {
    parseCacheConfig(vars);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).variable;
  }
  return "no error";
}

describe("cache settings", () => {
  it("defaults to an enabled cache of 4 MiB blocks kept 30 days, with rebuilt objects up to 128 MiB kept", () => {
    expect(parseCacheConfig({})).toEqual({ enabled: true, blockSize: 4 * 1024 * 1024, ttlSeconds: 2592000, rebuiltMaxSize: 128 * 1024 * 1024 });
  });

  it("keeps rebuilt objects up to DG_CACHE_REBUILT_MAX_SIZE, at most 512 MiB", () => {
    expect(parseCacheConfig({ DG_CACHE_REBUILT_MAX_SIZE: "64M" }).rebuiltMaxSize).toBe(64 * 1024 * 1024);
    expect(parseCacheConfig({ DG_CACHE_REBUILT_MAX_SIZE: "0" }).rebuiltMaxSize).toBe(0);
    expect(variableAtFault({ DG_CACHE_REBUILT_MAX_SIZE: "600M" })).toBe("DG_CACHE_REBUILT_MAX_SIZE");
  });

  it("accepts byte counts with K/M suffixes and switches", () => {
    expect(parseCacheConfig({ DG_CACHE_ENABLED: "false", DG_CACHE_BLOCK_SIZE: "8M", DG_CACHE_TTL_SECONDS: "3600" }))
      .toEqual({ enabled: false, blockSize: 8 * 1024 * 1024, ttlSeconds: 3600, rebuiltMaxSize: 128 * 1024 * 1024 });
    expect(parseCacheConfig({ DG_CACHE_BLOCK_SIZE: "512KiB" }).blockSize).toBe(512 * 1024);
  });

  it("names the variable in the error for a bad value", () => {
    expect(variableAtFault({ DG_CACHE_BLOCK_SIZE: "lots" })).toBe("DG_CACHE_BLOCK_SIZE");
    expect(variableAtFault({ DG_CACHE_BLOCK_SIZE: "1K" })).toBe("DG_CACHE_BLOCK_SIZE");
    expect(variableAtFault({ DG_CACHE_ENABLED: "maybe" })).toBe("DG_CACHE_ENABLED");
    expect(variableAtFault({ DG_CACHE_TTL_SECONDS: "-5" })).toBe("DG_CACHE_TTL_SECONDS");
    expect(() => parseCacheConfig({ DG_CACHE_TTL_SECONDS: "-5" })).toThrow(/^configuration variable DG_CACHE_TTL_SECONDS: /);
  });
});
