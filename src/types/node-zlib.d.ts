// The part of `node:zlib` the deflate fast path uses (src/deflate/node-zlib.ts). The Worker gets it from workerd
// under the compatibility flag nodejs_compat (wrangler.toml); the Workers types do not declare Node modules.
declare module "node:zlib" {
  interface ZlibDeflateOptions {
    level?: number;
    memLevel?: number;
    windowBits?: number;
    strategy?: number;
  }
  interface ZlibTransform {
    on(event: "data", listener: (chunk: Uint8Array) => void): this;
    on(event: "end", listener: () => void): this;
    on(event: "error", listener: (error: unknown) => void): this;
    write(chunk: Uint8Array, callback: (error?: Error | null) => void): boolean;
    end(): this;
  }
  export function createDeflateRaw(options?: ZlibDeflateOptions): ZlibTransform;
  export function deflateRawSync(data: Uint8Array, options?: ZlibDeflateOptions): Uint8Array;
  export function inflateRawSync(data: Uint8Array): Uint8Array;
}
