// The loopback front `npm start` puts before wrangler dev: it answers `Expect: 100-continue` at once and forwards
// every request unchanged (method, path, headers with Host, streamed body) to wrangler on an internal port.
// Why: workerd's listener never answers 100-continue, so aws-cli/boto3 wait ~1 s per PUT and the JS SDK ~6 s per
// upload of 1 MB or more before sending the body anyway.
// It also keeps wrangler dev's proxy from sitting on a GET or HEAD it parked (see ParkedRequestNudger).
import { createServer, request as httpRequest } from "node:http";

// Hop-by-hop headers describe one connection, not the request; Node sets its own on each side.
const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-connection", "upgrade"]);

/** How often the front nudges wrangler dev's proxy while a GET or HEAD waits for its answer. */
export const NUDGE_INTERVAL_MS = 1000;

/** The request a nudge sends: the Worker's cheapest answer (no storage, no authentication). */
const NUDGE_PATH = "/_/health";

/** Listen on host:port and forward to 127.0.0.1:targetPort. Resolves with the listening server. */
export function startContinueFront({ host, port, targetPort }) {
  const nudger = new ParkedRequestNudger(targetPort, NUDGE_INTERVAL_MS);
  const server = createServer((request, response) => forward(request, response, targetPort, nudger));
  // Large uploads may take longer than Node's default 5 minutes per request.
  server.requestTimeout = 0;
  server.on("checkContinue", (request, response) => {
    response.writeContinue();
    forward(request, response, targetPort, nudger);
  });
  server.on("close", () => nudger.stop());
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(Number(port), host, () => {
      server.off("error", reject);
      resolve(server);
    });
  });
}

function forward(request, response, targetPort, nudger) {
  // A fresh upstream connection per request (agent: false): one whose request body was cut short is never reused.
  const upstream = httpRequest({
    host: "127.0.0.1",
    port: targetPort,
    method: request.method,
    path: request.url,
    headers: withoutHopByHop(request.rawHeaders),
    agent: false,
  });
  const answered = PARKABLE_METHODS.has(request.method) ? nudger.waitingForAnswer() : () => {};
  upstream.on("close", answered);
  upstream.on("response", (answer) => {
    answered();
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

/** The methods wrangler dev's proxy parks instead of failing them (it retries only these). */
const PARKABLE_METHODS = new Set(["GET", "HEAD"]);

/** Nudges sent and not yet answered, at most (see ParkedRequestNudger). */
const MAX_UNANSWERED_NUDGES = 2;

/**
 * wrangler dev's proxy (its ProxyWorker, wrangler 4.86) sometimes loses its connection to the Worker as it
 * forwards a request ("Network connection lost"); we see it on the request right after a large upload on the
 * remote-S3 backend. It then takes the lost connection for a Worker restart (it compares the request's URL,
 * path included, with the Worker's bare address: they differ for any path but "/") and, for a GET or HEAD,
 * parks the request to retry it when the restarted Worker is ready. No restart comes: the request is sent again
 * only when the proxy's next request arrives, and a client waiting for this answer sends none (rclone's HEAD
 * after its PUT waited 5 minutes).
 * So while any GET or HEAD through the front waits for its answer, the front sends the proxy a cheap request
 * every `intervalMs`; each one makes it send on what it parked. Nothing is sent while no GET or HEAD waits.
 * At most two nudges are unanswered at a time: a nudge may be parked itself (it is a GET), and the next one
 * sends it on; but a Worker that answers nothing does not collect one more open request every second.
 */
class ParkedRequestNudger {
  #waiting = 0;
  #timer = undefined;
  #unanswered = 0;

  constructor(targetPort, intervalMs) {
    this.targetPort = targetPort;
    this.intervalMs = intervalMs;
  }

  /** A GET or HEAD went upstream; call the returned function (once or more) when its answer or error came. */
  waitingForAnswer() {
    let done = false;
    this.#waiting++;
    this.#timer ??= setInterval(() => this.#nudge(), this.intervalMs).unref();
    return () => {
      if (done) return;
      done = true;
      if (--this.#waiting === 0) this.stop();
    };
  }

  stop() {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #nudge() {
    if (this.#unanswered >= MAX_UNANSWERED_NUDGES) return;
    this.#unanswered++;
    const nudge = httpRequest({ host: "127.0.0.1", port: this.targetPort, method: "GET", path: NUDGE_PATH, agent: false });
    nudge.on("close", () => this.#unanswered--);
    nudge.on("response", (answer) => answer.resume());
    nudge.on("error", () => {}); // wrangler restarting or gone: the next tick tries again
    nudge.end();
  }
}
