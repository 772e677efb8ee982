// Preloaded into wrangler (NODE_OPTIONS=--require) by bench/multipart-memory.ts: adds V8 flags to the workerd
// configuration that miniflare serialises (its Config has a `v8Flags` field; wrangler offers no option for it).
// Flags come from DG_BENCH_V8_FLAGS (space-separated). Bench only; never part of the Worker.
const Module = require("node:module");
const { sep } = require("node:path");

const flags = (process.env.DG_BENCH_V8_FLAGS ?? "").split(" ").filter(Boolean);
const MINIFLARE = `${sep}miniflare${sep}dist${sep}src${sep}index.js`;
const ANCHOR = "function serializeConfig(config) {";
const compile = Module.prototype._compile;

Module.prototype._compile = function (content, filename) {
  if (flags.length && filename.endsWith(MINIFLARE)) {
    if (!content.includes(ANCHOR)) throw new Error(`v8-flags-hook: "${ANCHOR}" not found in ${filename}`);
    content = content.replace(ANCHOR, `${ANCHOR} config = { ...config, v8Flags: [...(config.v8Flags ?? []), ...${JSON.stringify(flags)}] };`);
  }
  return compile.call(this, content, filename);
};

// DG_BENCH_WORKERD_LOG: also append everything workerd writes to stdout/stderr (V8's --trace-gc output goes to
// stdout, which wrangler shows only at verbose log levels) to that file.
const logFile = process.env.DG_BENCH_WORKERD_LOG;
if (logFile) {
  const childProcess = require("node:child_process");
  const { appendFileSync, existsSync } = require("node:fs");
  const spawn = childProcess.spawn;
  // workerd's stdout is a pipe, so C stdio buffers it in blocks and a stopped workerd loses the tail: the GC trace of
  // its last requests. coreutils' stdbuf library (where installed) makes it line-buffered.
  const STDBUF = "/usr/libexec/coreutils/libstdbuf.so";
  const lineBuffered = (options) => existsSync(STDBUF)
    ? { ...options, env: { ...(options?.env ?? process.env), LD_PRELOAD: STDBUF, _STDBUF_O: "L", _STDBUF_E: "L" } }
    : options;
  childProcess.spawn = function (command, ...rest) {
    if (!String(command).endsWith("workerd")) return spawn.call(this, command, ...rest);
    const at = rest.findIndex((a) => a !== null && typeof a === "object" && !Array.isArray(a));
    if (at >= 0) rest[at] = lineBuffered(rest[at]);
    else rest.push(lineBuffered(undefined));
    const child = spawn.call(this, command, ...rest);
    for (const stream of [child.stdout, child.stderr]) stream?.on("data", (chunk) => appendFileSync(logFile, chunk));
    return child;
  };
}
