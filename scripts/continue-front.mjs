// The loopback front `npm start` puts before wrangler dev: it answers `Expect: 100-continue` at once and forwards
// every request unchanged (method, path, headers with Host, streamed body) to wrangler on an internal port.
// Why: workerd's listener never answers 100-continue, so aws-cli/boto3 wait ~1 s per PUT and the JS SDK ~6 s per
// upload of 1 MB or more before sending the body anyway.
import { createServer, request as httpRequest } from "node:http";

// Hop-by-hop headers describe one connection, not the request; Node sets its own on each side.
const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-connection", "upgrade"]);

/** Listen on host:port and forward to 127.0.0.1:targetPort. Resolves with the listening server. */
export function startContinueFront({ host, port, targetPort }) {
  const server = createServer((request, response) => forward(request, response, targetPort));
  // Large uploads may take longer than Node's default 5 minutes per request.
  server.requestTimeout = 0;
  server.on("checkContinue", (request, response) => {
    response.writeContinue();
    forward(request, response, targetPort);
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(Number(port), host, () => {
      server.off("error", reject);
      resolve(server);
    });
  });
}

function forward(request, response, targetPort) {
  // A fresh upstream connection per request (agent: false): one whose request body was cut short is never reused.
  const upstream = httpRequest({
    host: "127.0.0.1",
    port: targetPort,
    method: request.method,
    path: request.url,
    headers: withoutHopByHop(request.rawHeaders),
    agent: false,
  });
  upstream.on("response", (answer) => {
    // Answered before the client finished sending (e.g. an early 403)? Node's server then sends Connection: close
    // by itself: the rest of that body may still be on the wire, so the connection must not carry another request.
    response.writeHead(answer.statusCode, answer.statusMessage, withoutHopByHop(answer.rawHeaders));
    answer.pipe(response);
  });
  upstream.on("error", (error) => {
    if (!response.headersSent) {
      response.writeHead(502, { "content-type": "text/plain", connection: "close" });
      response.end(`npm start: wrangler dev did not answer (${error.code ?? error.message})\n`);
    } else if (!response.writableEnded) {
      response.destroy(error);
    }
  });
  request.pipe(upstream);
  // The client went away: stop the upstream request too.
  response.on("close", () => {
    if (!response.writableFinished) upstream.destroy();
  });
}

/** rawHeaders ([name, value, name, value, …]) without the hop-by-hop ones; names keep the client's spelling. */
function withoutHopByHop(rawHeaders) {
  const out = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (!HOP_BY_HOP.has(rawHeaders[i].toLowerCase())) out.push(rawHeaders[i], rawHeaders[i + 1]);
  }
  return out;
}
