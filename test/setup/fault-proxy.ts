// A small HTTP proxy in front of the test S3 server (radosgw) that misbehaves on demand, so the remote-S3
// backend's retries, timeouts and "nothing partial is visible" guarantees are tested against real failures:
// error answers, a server that never answers, and connections reset in the middle of a body.
//
// Tests (inside workerd) arm faults over HTTP:  POST /__fault  {"match": {...}, "action": ..., "times": n}
// A fault applies to the next `times` requests whose method/path/query match; everything else is forwarded
// byte for byte, Host header included, so SigV4 signatures stay valid.
import http from "node:http";
import type { AddressInfo } from "node:net";

export interface FaultRule {
  match: { method?: string; pathIncludes?: string; queryIncludes?: string };
  /**
   * status: answer `status` with an S3 error `code` (default 503 SlowDown) without forwarding.
   * hang: never answer. stall-response: forward, send headers and `afterBytes` body bytes, then go silent.
   * reset-response: like stall-response but reset the connection. reset-request: forward `afterBytes` of
   * the request body, then reset both connections (an upload cut off midway).
   */
  action: "status" | "hang" | "stall-response" | "reset-response" | "reset-request";
  status?: number;
  code?: string;
  afterBytes?: number;
  times?: number;
}

interface ArmedRule extends FaultRule {
  remaining: number;
  hits: number;
}

export interface FaultProxy {
  url: string;
  close(): Promise<void>;
}

export async function startFaultProxy(upstream: string, ports: number[]): Promise<FaultProxy> {
  const target = new URL(upstream);
  let rules: ArmedRule[] = [];
  const held = new Set<http.ServerResponse>();

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://proxy");
    if (url.pathname === "/__fault") return control(req, res);
    const rule = rules.find((candidate) => candidate.remaining > 0 && matches(candidate, req.method ?? "", url));
    if (!rule) return forward(req, res);
    rule.remaining--;
    rule.hits++;
    apply(rule, req, res);
  });

  function control(req: http.IncomingMessage, res: http.ServerResponse) {
    let text = "";
    req.on("data", (chunk) => (text += chunk));
    req.on("end", () => {
      if (req.method === "DELETE") rules = [];
      else if (req.method === "POST") {
        const rule = JSON.parse(text) as FaultRule;
        rules.push({ ...rule, remaining: rule.times ?? 1, hits: 0 });
      }
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify(rules.map(({ match, action, remaining, hits }) => ({ match, action, remaining, hits }))));
    });
  }

  function matches(rule: FaultRule, method: string, url: URL): boolean {
    const { match } = rule;
    if (match.method && match.method !== method) return false;
    if (match.pathIncludes && !decodeURIComponent(url.pathname).includes(match.pathIncludes)) return false;
    if (match.queryIncludes && !url.search.includes(match.queryIncludes)) return false;
    return true;
  }

  function apply(rule: ArmedRule, req: http.IncomingMessage, res: http.ServerResponse) {
    switch (rule.action) {
      case "status": {
        req.resume();
        req.on("end", () => {
          const body = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${rule.code ?? "SlowDown"}</Code><Message>injected fault</Message></Error>`;
          res.writeHead(rule.status ?? 503, { "content-type": "application/xml", "content-length": Buffer.byteLength(body) });
          res.end(req.method === "HEAD" ? undefined : body);
        });
        return;
      }
      case "hang":
        req.resume();
        held.add(res);
        res.on("close", () => held.delete(res));
        return;
      case "reset-request":
        return forward(req, res, { cutRequestAfter: rule.afterBytes ?? 0 });
      case "stall-response":
      case "reset-response":
        return forward(req, res, { cutResponseAfter: rule.afterBytes ?? 0, reset: rule.action === "reset-response" });
    }
  }

  function forward(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    cut: { cutRequestAfter?: number; cutResponseAfter?: number; reset?: boolean } = {},
  ) {
    const upstreamReq = http.request({
      host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers,
    });
    upstreamReq.on("error", () => res.destroy());
    upstreamReq.on("response", (upstreamRes) => {
      if (cut.cutResponseAfter === 0) {
        // The server has done the work; its answer never arrives (a lost response).
        upstreamRes.resume();
        if (cut.reset) req.socket.resetAndDestroy();
        else {
          held.add(res);
          res.on("close", () => held.delete(res));
        }
        return;
      }
      res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.headers);
      if (cut.cutResponseAfter === undefined) {
        upstreamRes.pipe(res);
        return;
      }
      let sent = 0;
      upstreamRes.on("data", (chunk: Buffer) => {
        if (sent >= cut.cutResponseAfter!) return;
        const room = cut.cutResponseAfter! - sent;
        res.write(chunk.subarray(0, room));
        sent += Math.min(room, chunk.length);
        if (sent >= cut.cutResponseAfter!) {
          upstreamRes.destroy();
          if (cut.reset) res.socket?.resetAndDestroy();
          else {
            held.add(res);
            res.on("close", () => held.delete(res));
          }
        }
      });
    });
    if (cut.cutRequestAfter === undefined) {
      req.pipe(upstreamReq);
      return;
    }
    let sent = 0;
    req.on("data", (chunk: Buffer) => {
      if (sent >= cut.cutRequestAfter!) return;
      const room = cut.cutRequestAfter! - sent;
      upstreamReq.write(chunk.subarray(0, room));
      sent += Math.min(room, chunk.length);
      if (sent >= cut.cutRequestAfter!) {
        // Give the bytes a moment to reach the server, then drop both connections mid-body.
        setTimeout(() => {
          upstreamReq.destroy();
          req.socket.resetAndDestroy();
        }, 50);
      }
    });
  }

  for (const port of ports) {
    const listening = await new Promise<boolean>((resolve) => {
      server.once("error", () => resolve(false));
      server.listen(port, "127.0.0.1", () => resolve(true));
    });
    if (listening) break;
  }
  if (!server.listening) throw new Error(`fault proxy: none of ports ${ports.join(",")} is free`);
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        for (const res of held) res.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
