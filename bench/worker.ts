// Runs the Worker under `wrangler dev` for the benchmark: its own persist dir, port and inspector port, stopped
// by its own PID. Also reads the workerd process's CPU time and resident memory from /proc.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";

export interface WorkerOptions {
  root: string;
  port: number;
  inspectorPort: number;
  persistTo: string;
  vars: Record<string, string>;
  /** Entry module to run instead of wrangler.toml's `main` (relative to root). */
  script?: string;
  logFile?: (line: string) => void;
}

export class LocalWorker {
  private child?: ChildProcess;
  private output = "";

  constructor(readonly options: WorkerOptions) {}

  get endpoint(): string {
    return `http://127.0.0.1:${this.options.port}`;
  }

  async start(): Promise<void> {
    const { root, port, inspectorPort, persistTo, vars } = this.options;
    const args = ["dev", ...(this.options.script ? [this.options.script] : []), "--local", "--persist-to", persistTo, "--ip", "127.0.0.1", "--port", String(port),
      "--inspector-port", String(inspectorPort), "--show-interactive-dev-session=false", "--log-level", "warn"];
    for (const [k, v] of Object.entries(vars)) args.push("--var", `${k}:${v}`);
    this.child = spawn(join(root, "node_modules/.bin/wrangler"), args, {
      cwd: root,
      env: { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false",
        WRANGLER_HIDE_BANNER: "true", CI: "true", NO_COLOR: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const collect = (chunk: Buffer) => {
      this.output = (this.output + chunk.toString()).slice(-20000);
      this.options.logFile?.(chunk.toString());
    };
    this.child.stdout!.on("data", collect);
    this.child.stderr!.on("data", collect);
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      if (this.child.exitCode !== null) throw new Error(`wrangler dev exited early:\n${this.output}`);
      try {
        const res = await fetch(`${this.endpoint}/_/health`);
        await res.arrayBuffer();
        if (res.ok) return;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    // Stopped here, or the caller (which never got a handle to stop) would leave wrangler holding the port.
    await this.stop();
    throw new Error(`wrangler dev did not answer /_/health within 60 s:\n${this.output}`);
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(timer);
    this.child = undefined;
  }

  /**
   * The workerd process that runs the user Worker: wrangler starts two (a proxy that owns the public port, and the
   * runtime of the Worker itself, the one with an inspector address), so pick the one with `--inspector-addr`.
   */
  workerdPid(): number | null {
    if (!this.child?.pid) return null;
    const queue = [this.child.pid];
    let fallback: number | null = null;
    while (queue.length) {
      const pid = queue.shift()!;
      for (const child of childrenOf(pid)) {
        if (readProc(child, "comm")?.trim() === "workerd") {
          if (readProc(child, "cmdline")?.includes("--inspector-addr")) return child;
          fallback ??= child;
        }
        queue.push(child);
      }
    }
    return fallback;
  }

  recentOutput(): string {
    return this.output;
  }
}

function readProc(pid: number, file: string): string | null {
  try {
    return readFileSync(`/proc/${pid}/${file}`, "utf8");
  } catch {
    return null;
  }
}

function childrenOf(pid: number): number[] {
  const out: number[] = [];
  const taskDir = `/proc/${pid}/task`;
  if (!existsSync(taskDir)) return out;
  for (const tid of readdirSync(taskDir)) {
    const text = readProc(pid, `task/${tid}/children`);
    if (text) out.push(...text.trim().split(/\s+/).filter(Boolean).map(Number));
  }
  return out;
}

const CLOCK_TICKS = 100; // USER_HZ on Linux

/** User + system CPU milliseconds the process has used so far. */
export function cpuMs(pid: number): number {
  const stat = readProc(pid, "stat");
  if (!stat) return NaN;
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
}

/** Current resident set size in bytes. */
export function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readProc(pid, "status") ?? "");
  return m ? Number(m[1]) * 1024 : NaN;
}

/** Bytes of object bodies wrangler's local R2 holds on disk (blob files under the persist dir). */
export function r2BlobBytes(persistTo: string): number {
  const root = join(persistTo, "v3", "r2");
  let total = 0;
  const walk = (dir: string) => {
    if (!existsSync(dir)) return;
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (dir.split("/").includes("blobs")) total += statSync(path).size;
    }
  };
  walk(root);
  return total;
}
