// The runner node's Prometheus metrics: its slots (total, and used by kind, read from the node
// when scraped), runs by outcome, tokens by provider and model, tool calls by tool and outcome,
// work redeliveries and leases lost. No label carries a task id.
import type { EventType } from "@switchyard/contracts";
import { Counter, Gauge, type Registry, type Span, startSpan, tracingEnabled } from "@switchyard/runtime";
import { EventSink } from "./event-sink.ts";

export interface RunnerMetrics {
  runs: Counter<"kind" | "outcome">;
  tokens: Counter<"provider" | "model" | "type">;
  toolCalls: Counter<"tool" | "outcome">;
  /** Work items delivered more than once (a node died holding them, or a claim got no answer). */
  redeliveries: Counter<"kind">;
  /** Runs abandoned because the kernel gave the task to another run. */
  leasesLost: Counter;
}

export function createRunnerMetrics(registry: Registry, slots: () => { total: number; usedByKind: Map<string, number> }): RunnerMetrics {
  const registers = [registry];
  new Gauge({
    name: "sy_runner_slots_total",
    help: "Run slots of this node (shared by every kind it serves)",
    registers,
    collect() {
      this.set(slots().total);
    },
  });
  new Gauge({
    name: "sy_runner_slots_used",
    help: "Runs in flight on this node, by runner kind",
    labelNames: ["kind"],
    registers,
    collect() {
      this.reset();
      for (const [kind, used] of slots().usedByKind) this.set({ kind }, used);
    },
  });
  return {
    runs: new Counter({ name: "sy_runs_total", help: "Runs ended on this node, by kind and outcome", labelNames: ["kind", "outcome"], registers }),
    tokens: new Counter({
      name: "sy_model_tokens_total",
      help: "Model tokens, by provider, model and type (input, output)",
      labelNames: ["provider", "model", "type"],
      registers,
    }),
    toolCalls: new Counter({
      name: "sy_tool_calls_total",
      help: "Tool calls finished, by tool and outcome (ok, error)",
      labelNames: ["tool", "outcome"],
      registers,
    }),
    redeliveries: new Counter({ name: "sy_work_redeliveries_total", help: "Work items delivered more than once, by kind", labelNames: ["kind"], registers }),
    leasesLost: new Counter({ name: "sy_leases_lost_total", help: "Runs abandoned because their lease went to another run", registers }),
  };
}

/** `openai:gpt-4.1-mini` → openai; a model id without a provider prefix is its own provider (`scripted`). */
export function providerOf(model: string): string {
  const i = model.indexOf(":");
  return i > 0 ? model.slice(0, i) : model;
}

/**
 * An EventSink that counts tool results as they are emitted (no allocation per event) and, with
 * tracing on, opens a span per model call (step.start until the round's first tool.call, message
 * or step.finish) and per tool call (tool.call until its tool.result), children of the run's span.
 */
export class MeteredEventSink extends EventSink {
  metrics: RunnerMetrics | undefined;
  /** The plan's model, for the model call spans. */
  traceModel = "";
  #modelSpan: Span | undefined;
  readonly #toolSpans = new Map<string, Span>();

  override emit(type: EventType, data: unknown): Promise<void> {
    if (type === "tool.result" && this.metrics) {
      const d = data as { tool?: unknown; error?: unknown };
      this.metrics.toolCalls.inc({ tool: typeof d.tool === "string" ? d.tool : "unknown", outcome: d.error === undefined ? "ok" : "error" });
    }
    if (tracingEnabled()) this.#trace(type, data as Record<string, unknown>);
    return super.emit(type, data);
  }

  #trace(type: EventType, d: Record<string, unknown>): void {
    if (type === "step.start") {
      this.#modelSpan?.end();
      this.#modelSpan = startSpan(`model ${this.traceModel}`, { "gen_ai.request.model": this.traceModel, "sy.round": Number(d.round) });
    } else if (type === "tool.call" || type === "message" || type === "step.finish") {
      this.#modelSpan?.end();
      this.#modelSpan = undefined;
      if (type === "tool.call" && typeof d.call_id === "string") {
        const span = startSpan(`tool ${String(d.tool)}`, { "sy.tool": String(d.tool), "sy.call_id": d.call_id, "sy.round": Number(d.round) });
        if (span) this.#toolSpans.set(d.call_id, span);
      }
    } else if (type === "tool.result" && typeof d.call_id === "string") {
      const span = this.#toolSpans.get(d.call_id);
      if (d.error !== undefined) span?.setStatus({ code: 2, message: String((d.error as { message?: unknown })?.message ?? d.error) });
      span?.end();
      this.#toolSpans.delete(d.call_id);
    }
  }

  /** Ends spans a run left open (an abort between a call and its result). */
  endSpans(): void {
    this.#modelSpan?.end();
    for (const s of this.#toolSpans.values()) s.end();
    this.#toolSpans.clear();
  }
}
