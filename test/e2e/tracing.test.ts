// OpenTelemetry traces over real processes: with OTEL_EXPORTER_OTLP_ENDPOINT pointing at a
// local OTLP/HTTP receiver (JSON, as the exporter sends it), the client's traceparent rides
// through gateway → kernel → spawner and runner → model call → tool call, and every service's
// spans of one task carry the client's trace id.
import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import { DeliverPolicy, jetstream } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { type Fleet, startFleet } from "@switchyard/devkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, http } from "../src/http.ts";
import { readStream } from "../src/sse.ts";
import { eventsUrl, putAgents } from "../src/support.ts";

interface ReceivedSpan {
  service: string;
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId: string;
}

let fleet: Fleet;
let G: string;
let receiver: Server;
const spans: ReceivedSpan[] = [];

/** A minimal OTLP/HTTP trace receiver: POST /v1/traces with an ExportTraceServiceRequest in JSON. */
function startReceiver(): Promise<number> {
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      if (req.url !== "/v1/traces" || !String(req.headers["content-type"]).includes("json")) {
        res.writeHead(415).end();
        return;
      }
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as {
        resourceSpans: {
          resource: { attributes: { key: string; value: { stringValue?: string } }[] };
          scopeSpans: { spans: Omit<ReceivedSpan, "service">[] }[];
        }[];
      };
      for (const rs of body.resourceSpans ?? []) {
        const service = rs.resource.attributes.find((a) => a.key === "service.name")?.value.stringValue ?? "?";
        for (const ss of rs.scopeSpans ?? [])
          for (const s of ss.spans ?? []) spans.push({ service, name: s.name, traceId: s.traceId, spanId: s.spanId, parentSpanId: s.parentSpanId ?? "" });
      }
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  return new Promise((resolve) => receiver.listen(0, "127.0.0.1", () => resolve((receiver.address() as { port: number }).port)));
}

beforeAll(async () => {
  const port = await startReceiver();
  fleet = await startFleet({
    runnerNodes: 1,
    env: {
      LOG_LEVEL: "info",
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
      OTEL_BSP_SCHEDULE_DELAY: "200",
    },
  });
  G = fleet.gatewayUrl;
  await putAgents(G, {
    traced: {
      model: "scripted",
      tools: ["echo"],
      script: [{ text: "calling", tool: { name: "echo", args: { q: "{{input}}" } } }, { text: "done {{input}}" }],
    },
  });
});

afterAll(async () => {
  await fleet?.stop();
  await new Promise((r) => receiver?.close(r));
});

describe("tracing", () => {
  it("follows one task under the client's trace id through at least four services, with model and tool call spans", async () => {
    const traceId = randomBytes(16).toString("hex");
    const parent = randomBytes(8).toString("hex");
    const res = await http("POST", `${G}/v1/tasks`, { agent: "traced", input: "t" }, { traceparent: `00-${traceId}-${parent}-01` });
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    await readStream(eventsUrl(G, res.body.id));

    const ours = await eventually(
      async () => {
        const mine = spans.filter((s) => s.traceId === traceId);
        const services = new Set(mine.map((s) => s.service));
        const names = mine.map((s) => s.name);
        return services.size >= 4 && names.includes("runner-pool run") && names.some((n) => n.startsWith("tool ")) && names.some((n) => n.startsWith("model "))
          ? mine
          : null;
      },
      20_000,
      "spans of the task from four services",
    ).catch(() => {
      throw new Error(`spans with trace id ${traceId}: ${JSON.stringify(spans.filter((s) => s.traceId === traceId).map((s) => `${s.service}:${s.name}`))}`);
    });
    const services = new Set(ours.map((s) => s.service));
    for (const s of ["gateway", "kernel", "spawner", "runner-pool"]) expect(services, `a span from ${s}`).toContain(s);
    // The gateway's span is the child of the client's; the runner's run is a child of a kernel span.
    const byId = new Map(ours.map((s) => [s.spanId, s]));
    expect(ours.find((s) => s.service === "gateway")?.parentSpanId).toBe(parent);
    const run = ours.find((s) => s.name === "runner-pool run");
    expect(run, "the runner's span").toBeDefined();
    expect(byId.get(run!.parentSpanId)?.service, "the run's parent span is the kernel's").toBe("kernel");
    const tool = ours.find((s) => s.name === "tool echo");
    expect(byId.get(tool!.parentSpanId)?.name, "the tool call is a child of the run").toBe("runner-pool run");

    // Every event the run publishes to SY_EVENTS carries the task's trace in its headers.
    const nc = await connect({ servers: fleet.natsUrl });
    try {
      const consumer = await jetstream(nc).consumers.get("SY_EVENTS", { filter_subjects: `sy.events.*.*.${res.body.id}`, deliver_policy: DeliverPolicy.All });
      const stored: { type: string; runner: boolean; traceparent: string }[] = [];
      for await (const m of await consumer.fetch({ max_messages: 100, expires: 2000 })) {
        const type = (m.json() as { type: string }).type;
        stored.push({ type, runner: type !== "status", traceparent: m.headers?.get("traceparent") ?? "" });
        if (m.info.pending === 0) break;
      }
      expect(stored.filter((e) => e.runner).map((e) => e.type)).toEqual(
        expect.arrayContaining(["step.start", "text.delta", "tool.call", "tool.result", "usage"]),
      );
      // The kernel's status events too: its handling of the run's reports stays in the task's trace.
      expect(stored.filter((e) => !e.runner).length).toBeGreaterThanOrEqual(3);
      for (const e of stored) expect(e.traceparent, `${e.type} carries the task's trace`).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-0[01]$`));
    } finally {
      await nc.close();
    }
  });
});
