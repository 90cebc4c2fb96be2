// OpenTelemetry traces, off by default. On when OTEL_EXPORTER_OTLP_ENDPOINT (or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set, unless OTEL_SDK_DISABLED=true or
// OTEL_TRACES_EXPORTER is not "otlp"; the SDK then reads the other standard OTEL_* variables
// (sampler, batch processor, exporter headers and timeouts) itself and exports OTLP/HTTP JSON.
// Off, nothing of the SDK is loaded and every helper here returns at its first line: no
// headers, no spans, no allocations. A W3C `traceparent` rides in NATS headers from hop to hop
// (gateway → kernel → spawner / runner → events); within a process the active span follows the
// async context.
import { type MsgHdrs, headers as natsHeaders } from "@nats-io/nats-core";
import { type Attributes, type Context, context, propagation, ROOT_CONTEXT, type Span, SpanStatusCode, trace } from "@opentelemetry/api";

export type { Span } from "@opentelemetry/api";

let enabled = false;

/** True once initTracing found an exporter to send to. */
export function tracingEnabled(): boolean {
  return enabled;
}

/** Starts the SDK when the environment asks for traces; returns a flush-and-stop function, or null when off. */
export async function initTracing(service: string, env: NodeJS.ProcessEnv = process.env): Promise<(() => Promise<void>) | null> {
  if (env.OTEL_SDK_DISABLED === "true") return null;
  if (!env.OTEL_EXPORTER_OTLP_ENDPOINT && !env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) return null;
  if (env.OTEL_TRACES_EXPORTER && env.OTEL_TRACES_EXPORTER !== "otlp") return null;
  const [sdk, { OTLPTraceExporter }, { AsyncLocalStorageContextManager }, { W3CTraceContextPropagator }, { resourceFromAttributes }] = await Promise.all([
    import("@opentelemetry/sdk-trace"),
    import("@opentelemetry/exporter-trace-otlp-http"),
    import("@opentelemetry/context-async-hooks"),
    import("@opentelemetry/core"),
    import("@opentelemetry/resources"),
  ]);
  // The SDK takes these as options; the standard variables are read here (the exporter reads
  // OTEL_EXPORTER_OTLP_* itself).
  const num = (name: string): number | undefined => (env[name] && Number.isFinite(Number(env[name])) ? Number(env[name]) : undefined);
  const ratio = num("OTEL_TRACES_SAMPLER_ARG") ?? 1;
  const samplers: Record<string, () => import("@opentelemetry/sdk-trace").Sampler> = {
    always_on: () => new sdk.AlwaysOnSampler(),
    always_off: () => new sdk.AlwaysOffSampler(),
    traceidratio: () => new sdk.TraceIdRatioBasedSampler(ratio),
    parentbased_always_on: () => new sdk.ParentBasedSampler({ root: new sdk.AlwaysOnSampler() }),
    parentbased_always_off: () => new sdk.ParentBasedSampler({ root: new sdk.AlwaysOffSampler() }),
    parentbased_traceidratio: () => new sdk.ParentBasedSampler({ root: new sdk.TraceIdRatioBasedSampler(ratio) }),
  };
  const sampler = (samplers[env.OTEL_TRACES_SAMPLER ?? "parentbased_always_on"] ?? samplers.parentbased_always_on!)();
  const batch = {
    ...(num("OTEL_BSP_SCHEDULE_DELAY") === undefined ? {} : { scheduledDelayMillis: num("OTEL_BSP_SCHEDULE_DELAY") }),
    ...(num("OTEL_BSP_EXPORT_TIMEOUT") === undefined ? {} : { exportTimeoutMillis: num("OTEL_BSP_EXPORT_TIMEOUT") }),
    ...(num("OTEL_BSP_MAX_QUEUE_SIZE") === undefined ? {} : { maxQueueSize: num("OTEL_BSP_MAX_QUEUE_SIZE") }),
    ...(num("OTEL_BSP_MAX_EXPORT_BATCH_SIZE") === undefined ? {} : { maxExportBatchSize: num("OTEL_BSP_MAX_EXPORT_BATCH_SIZE") }),
  };
  const provider = new sdk.TracerProvider({
    resource: resourceFromAttributes({ "service.name": env.OTEL_SERVICE_NAME || service }),
    sampler,
    spanProcessors: [new sdk.BatchSpanProcessor({ exporter: new OTLPTraceExporter(), ...batch })],
  });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
  enabled = true;
  return async () => {
    await provider.forceFlush().catch(() => undefined);
    await provider.shutdown().catch(() => undefined);
  };
}

const tracer = () => trace.getTracer("switchyard");

const natsGetter = {
  keys: (h: MsgHdrs | undefined) => (h ? h.keys() : []),
  get: (h: MsgHdrs | undefined, key: string) => h?.get(key) || undefined,
};
const natsSetter = { set: (h: MsgHdrs, key: string, value: string) => h.set(key, value) };
type HttpHeaders = Record<string, string | string[] | undefined>;
const httpGetter = {
  keys: (h: HttpHeaders) => Object.keys(h),
  get: (h: HttpHeaders, key: string) => h[key.toLowerCase()],
};

/** The trace context a NATS message carries (its `traceparent` header), or none. */
export function contextFromNats(h: MsgHdrs | undefined): Context | undefined {
  if (!enabled || !h) return undefined;
  return propagation.extract(ROOT_CONTEXT, h, natsGetter);
}

/** The trace context of an HTTP request's `traceparent` header (a new trace when absent). */
export function contextFromHttp(headers: HttpHeaders): Context | undefined {
  if (!enabled) return undefined;
  return propagation.extract(ROOT_CONTEXT, headers, httpGetter);
}

/** Adds the active (or given) trace context to NATS headers; a no-op when tracing is off. */
export function injectTrace(h: MsgHdrs, ctx?: Context): void {
  if (!enabled) return;
  propagation.inject(ctx ?? context.active(), h, natsSetter);
}

/** Publish/request options with the active trace context in a `traceparent` header; `{}` when off. */
export function traceHeaders(ctx?: Context): { headers?: MsgHdrs } {
  if (!enabled) return {};
  const h = natsHeaders();
  propagation.inject(ctx ?? context.active(), h, natsSetter);
  return { headers: h };
}

/** Runs `fn` in a span named `name`, child of `parent` (or of the active span). Off: just `fn()`. */
export function inSpan<T>(name: string, parent: Context | undefined, attributes: Attributes, fn: () => Promise<T>): Promise<T> {
  if (!enabled) return fn();
  return tracer().startActiveSpan(name, { attributes }, parent ?? context.active(), async (span) => {
    try {
      return await fn();
    } catch (err) {
      span.recordException(err as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error)?.message });
      throw err;
    } finally {
      span.end();
    }
  });
}

/** Starts a span the caller ends (for spans that open and close in different calls), or undefined when off. */
export function startSpan(name: string, attributes: Attributes, parent?: Context): Span | undefined {
  if (!enabled) return undefined;
  return tracer().startSpan(name, { attributes }, parent ?? context.active());
}

/** The context of `span`, to pass on as a parent or inject into headers. */
export function contextWithSpan(span: Span | undefined): Context | undefined {
  return span ? trace.setSpan(context.active(), span) : undefined;
}
