// The reference cache's public surface for the composition root (src/wiring.ts) and the engine's tests.
export { ReferenceBlockCache, DEFAULT_BLOCK_SIZE, DEFAULT_TTL_SECONDS } from "./blocks";
export type { BlockCacheOptions, BlockCacheStats, FillScope, ReferenceId } from "./blocks";
export { backendRangeReader } from "./origin";
export { parseCacheConfig } from "./config";
export type { CacheConfig, CacheVars } from "./config";
export { RebuiltObjectCache, MAX_CACHE_LAG } from "./rebuilt";
export type { RebuiltObjectId, RebuiltCacheOptions, RebuiltScope } from "./rebuilt";
