// GET /metrics (Prometheus text) and the gateway's HTTP metrics: requests and their duration
// by route pattern and status code, and refused (malformed) requests in sy_invalid_input_total.
// Labels use the route pattern (`GET /v1/tasks/:id`), never the raw URL: ids would make the
// label set unbounded.
import { Counter, Gauge, Histogram, type ServiceMetrics } from "@switchyard/runtime";
import type { FastifyInstance, FastifyRequest } from "fastify";

const METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);
/** The route label of a request no route matched (404, malformed URL, HTTP parse error). */
export const UNMATCHED_ROUTE = "(unmatched)";

/** `POST /v1/tasks/:id/cancel`: the method and the route pattern that matched (the `source` of a refused request). */
export function routeLabel(req: FastifyRequest | undefined): string {
  if (!req) return UNMATCHED_ROUTE;
  const method = METHODS.has(req.method) ? req.method : "OTHER";
  let pattern: string | undefined;
  try {
    pattern = req.routeOptions.url;
  } catch {
    pattern = undefined; // framework errors (a malformed URL) carry no route context
  }
  return `${method} ${pattern ?? UNMATCHED_ROUTE}`;
}

export function metricsRoutes(app: FastifyInstance, metrics: ServiceMetrics): void {
  const requests = new Counter({
    name: "sy_http_requests_total",
    help: "HTTP requests answered, by method, route pattern and status code",
    labelNames: ["method", "route", "status_code"],
    registers: [metrics.registry],
  });
  const duration = new Histogram({
    name: "sy_http_request_duration_seconds",
    help: "HTTP request duration until the response ended (SSE: the whole stream), by method and route pattern",
    labelNames: ["method", "route"],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120],
    registers: [metrics.registry],
  });

  const followers = new Gauge({
    name: "sy_sse_followers",
    help: "SSE connections open on GET /v1/tasks/:id/events",
    registers: [metrics.registry],
  });

  // On the raw response: hijacked replies (SSE) never reach fastify's onResponse hook. In
  // callback style, with the route read once: no promise or microtask hop per request.
  app.addHook("onRequest", (req, reply, done) => {
    const started = process.hrtime.bigint();
    const [method, route] = splitLabel(routeLabel(req));
    const follower = route === "/v1/tasks/:id/events";
    if (follower) followers.inc();
    reply.raw.once("close", () => {
      if (follower) followers.dec();
      requests.inc({ method, route, status_code: String(reply.raw.statusCode) });
      duration.observe({ method, route }, Number(process.hrtime.bigint() - started) / 1e9);
    });
    done();
  });

  app.get("/metrics", async (_req, reply) => {
    const body = await metrics.registry.metrics();
    return reply.type(metrics.registry.contentType).send(body);
  });
}

function splitLabel(label: string): [string, string] {
  const i = label.indexOf(" ");
  return [label.slice(0, i), label.slice(i + 1)];
}
