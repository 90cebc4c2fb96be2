// Prometheus metrics: one registry per service with default Node metrics and the counters
// every service shares. The gateway serves them on GET /metrics; the other services on
// METRICS_PORT (when set) via `serveMetrics`.
import { createServer, type Server } from "node:http";
import { Counter, collectDefaultMetrics, Registry } from "prom-client";

export { Counter, Gauge, Histogram, type Registry } from "prom-client";

export interface ServiceMetrics {
  registry: Registry;
  /** Messages or requests dropped because they were malformed, by where they arrived. */
  invalidInput: Counter<"source">;
  /** Reconnects of this process's NATS and Redis connections (see countReconnects). */
  reconnects: Counter<"to">;
}

export function createMetrics(service: string): ServiceMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry, prefix: "sy_" });
  const invalidInput = new Counter({
    name: "sy_invalid_input_total",
    help: "Malformed messages or requests dropped (subject or route in `source`)",
    labelNames: ["source"],
    registers: [registry],
  });
  const reconnects = new Counter({
    name: "sy_reconnects_total",
    help: "Reconnects of this process's connections, by what it reconnected to (nats, redis)",
    labelNames: ["to"],
    registers: [registry],
  });
  return { registry, invalidInput, reconnects };
}

/** GET /metrics and /healthz on METRICS_PORT, or null when it is "off". */
export async function serveMetricsFromEnv(registry: Registry, port: number | "off"): Promise<{ server: Server; port: number } | null> {
  return port === "off" ? null : serveMetrics(registry, port);
}

/** A minimal HTTP server with GET /metrics and GET /healthz, for services without an API. */
export async function serveMetrics(registry: Registry, port: number, host = "0.0.0.0"): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    if (req.url === "/metrics") {
      registry.metrics().then(
        (body) => res.writeHead(200, { "content-type": registry.contentType }).end(body),
        () => res.writeHead(500).end(),
      );
    } else if (req.url === "/healthz") {
      res.writeHead(200, { "content-type": "application/json" }).end('{"status":"ok"}');
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve, reject) => server.once("error", reject).listen(port, host, resolve));
  return { server, port: (server.address() as { port: number }).port };
}
