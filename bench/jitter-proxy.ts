// A loopback front for an S3 server that delays every request by a random 0..maxDelayMs before forwarding it
// byte for byte (Host header included, so SigV4 signatures stay valid). Local servers answer too fast for
// races between backend calls to show; with a jitter of a WAN round trip they do (bench/load.ts).
import http from "node:http";
import type { AddressInfo } from "node:net";

export interface JitterProxy {
  url: string;
  /** Requests forwarded so far. */
  forwarded(): number;
  close(): Promise<void>;
}

export async function startJitterProxy(upstream: string, maxDelayMs: number, random: () => number): Promise<JitterProxy> {
  const target = new URL(upstream);
  let count = 0;
  const server = http.createServer((req, res) => {
    const delay = Math.floor(random() * (maxDelayMs + 1));
    // Pause the request body while we wait, so nothing is buffered beyond the socket's own window.
    req.pause();
    setTimeout(() => forward(req, res), delay);
  });

  function forward(req: http.IncomingMessage, res: http.ServerResponse): void {
    count++;
    const upstreamRequest = http.request({
      host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers,
    }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstreamRequest.on("error", () => res.destroy());
    req.on("error", () => upstreamRequest.destroy());
    req.pipe(upstreamRequest);
    req.resume();
  }

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    forwarded: () => count,
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
