// xdelta3-compatible command line tool running the Worker's WebAssembly codec in Node, so a stored object can be
// rebuilt offline from reference.bin + its .delta, and deltas can be made exactly as the Worker makes them.
//
//   npm run -s xdelta3 -- -e [-0..-9] [-S lzma|djw|none] [-B bytes] [-W bytes] -s SOURCE TARGET DELTA
//   npm run -s xdelta3 -- -d [-B bytes] -s SOURCE DELTA OUT
//
// Options: -f (accepted, outputs are always overwritten), -s SOURCE (optional: without it, plain compression),
// "-" as TARGET/DELTA reads stdin, "-" or -c as OUT writes stdout, --max-memory BYTES (WASM cap, default 1 GiB),
// --stats (one JSON line to stderr). Sizes accept K/M/G suffixes (powers of 1024).
// Without -N/-S/-B/-W the encoder uses the Worker's defaults (src/codec/defaults.ts); decoding uses a 64 MiB
// source cache (xdelta3's default -B) so deltas made with any -B up to 64 MiB never re-read the source.

import { createReadStream, createWriteStream } from "node:fs";
import { rm, stat } from "node:fs/promises";
import { Readable, Writable } from "node:stream";
import { decode, encode, setIsolateCodecBudget, type CodecOptions, type CodecStats } from "../codec/index";
import { loadCodecModule } from "../codec/node";
import { openFileSource } from "./file-source";

const MiB = 1024 * 1024;
const CLI_MAX_MEMORY = 1024 * MiB; // the module's own maximum
const CLI_DECODE_CACHE = 64 * MiB;

interface Args {
  mode: "encode" | "decode";
  source?: string;
  input: string;
  output: string;
  options: CodecOptions;
  stats: boolean;
}

class UsageError extends Error {}

const USAGE = `usage: xdelta3 -e [-0..-9] [-S lzma|djw|none] [-B bytes] [-W bytes] [-s SOURCE] TARGET DELTA
       xdelta3 -d [-B bytes] [-s SOURCE] DELTA OUT
       other options: -f, -c (write to stdout), --max-memory BYTES, --stats`;

function parseSize(flag: string, text: string | undefined): number {
  const m = text?.match(/^(\d+)([kKmMgG]?)[iI]?[bB]?$/);
  if (!m) throw new UsageError(`${flag} needs a size in bytes (optionally with K/M/G), got "${text ?? ""}"`);
  const scale = { "": 1, k: 1024, m: MiB, g: 1024 * MiB }[m[2].toLowerCase() as "" | "k" | "m" | "g"];
  return Number(m[1]) * scale;
}

export function parseArgs(argv: string[]): Args {
  let mode: Args["mode"] | undefined;
  let source: string | undefined;
  let stats = false;
  let toStdout = false;
  const options: CodecOptions = {};
  const files: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "-e") mode = "encode";
    else if (a === "-d") mode = "decode";
    else if (/^-[0-9]$/.test(a)) options.level = Number(a.slice(1));
    else if (a === "-S") {
      const s = argv[++i];
      if (s !== "lzma" && s !== "djw" && s !== "none") throw new UsageError(`-S must be lzma, djw or none, got "${s ?? ""}"`);
      options.secondary = s;
    } else if (a === "-B") options.sourceWindow = parseSize("-B", argv[++i]);
    else if (a === "-W") options.inputWindow = parseSize("-W", argv[++i]);
    else if (a === "-s") source = argv[++i];
    else if (a === "--max-memory") options.maxMemory = parseSize("--max-memory", argv[++i]);
    else if (a === "--stats") stats = true;
    else if (a === "-c") toStdout = true;
    else if (a === "-f" || a === "-D") continue; // always overwrite; never external (de)compression
    else if (a === "-h" || a === "--help") throw new UsageError(USAGE);
    else if (a.startsWith("-") && a !== "-") throw new UsageError(`unknown option ${a}\n${USAGE}`);
    else files.push(a);
  }
  if (!mode) throw new UsageError(`choose -e (encode) or -d (decode)\n${USAGE}`);
  if (source === undefined && argv.includes("-s")) throw new UsageError("-s needs a SOURCE file");
  if (toStdout) files[1] = "-";
  if (files.length !== 2) throw new UsageError(`expected an input and an output file\n${USAGE}`);
  options.maxMemory ??= CLI_MAX_MEMORY;
  if (mode === "decode") options.sourceWindow ??= CLI_DECODE_CACHE;
  return { mode, source, input: files[0], output: files[1], options, stats };
}

function inputStream(path: string): ReadableStream<Uint8Array> {
  const node = path === "-" ? process.stdin : createReadStream(path, { highWaterMark: MiB });
  return Readable.toWeb(node) as unknown as ReadableStream<Uint8Array>;
}

function outputStream(path: string): WritableStream<Uint8Array> {
  const node = path === "-" ? process.stdout : createWriteStream(path);
  return Writable.toWeb(node) as WritableStream<Uint8Array>;
}

export async function run(args: Args): Promise<CodecStats & { ms: number }> {
  setIsolateCodecBudget(Math.max(args.options.maxMemory ?? CLI_MAX_MEMORY, CLI_MAX_MEMORY));
  const module = await loadCodecModule();
  const source = args.source !== undefined ? await openFileSource(args.source) : undefined;
  const started = performance.now();
  let stats: CodecStats | undefined;
  const options: CodecOptions = { ...args.options, onStats: (s) => (stats = s) };
  if (args.mode === "encode" && args.input !== "-") options.targetSize ??= (await stat(args.input)).size;
  try {
    const input = inputStream(args.input);
    const out = args.mode === "encode"
      ? encode(module, source?.info ?? null, input, options)
      : decode(module, source?.info ?? null, input, options);
    await out.pipeTo(outputStream(args.output));
  } catch (e) {
    if (args.output !== "-") await rm(args.output, { force: true });
    throw e;
  } finally {
    await source?.close();
  }
  return { ...stats!, ms: Math.round(performance.now() - started) };
}

async function main(): Promise<void> {
  try {
    const args = parseArgs(process.argv.slice(2));
    const result = await run(args);
    if (args.stats) {
      const { mode, bytesIn, bytesOut, ms, wasmMemoryPeakBytes } = result;
      process.stderr.write(JSON.stringify({ mode, bytesIn, bytesOut, ms, wasmMemoryPeakBytes }) + "\n");
    }
  } catch (e) {
    process.stderr.write(`xdelta3: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = e instanceof UsageError ? 2 : 1;
  }
}

await main();
