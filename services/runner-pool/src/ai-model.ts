// A real model behind the runner's model interface, through the `ai` SDK (README › Use a real
// model). One round is one streamed provider request: text and reasoning deltas as they come,
// each tool call once its arguments are complete, then the usage the provider reported. The
// SDK does not retry (maxRetries 0: retries are the kernel's) and never runs a tool (no
// `execute`: the loop runs them after the kernel's round check). The run's abort signal
// aborts the request, which closes the provider's connection.
import type { ProviderName, RunPlan } from "@switchyard/contracts";
import { jsonSchema, type LanguageModel, type LanguageModelUsage, streamText, type ToolSet, tool } from "ai";
import type { z } from "zod";
import { toModelMessages, toolNamesIn } from "./conversation.ts";
import type { Model, ModelChunk, ModelUsage, RoundInput } from "./model.ts";
import { mapProviderError } from "./model-errors.ts";
import { languageModel, type ProviderConfig } from "./providers.ts";
import { buildToolNameMap } from "./tool-names.ts";
import type { ToolSpec } from "./tools.ts";

// The SDK's warnings go to the console (not our logger); unsupported settings are the agent's choice.
(globalThis as { AI_SDK_LOG_WARNINGS?: boolean }).AI_SDK_LOG_WARNINGS = false;

export class AiSdkModel implements Model {
  readonly #model: LanguageModel;
  readonly #provider: ProviderConfig;
  readonly #modelId: string;
  readonly #plan: RunPlan;
  readonly #tools: readonly ToolSpec[];

  constructor(providers: ReadonlyMap<string, ProviderConfig>, plan: RunPlan, tools: readonly ToolSpec[]) {
    const m = languageModel(providers, plan.model);
    this.#model = m.model;
    this.#provider = m.provider;
    this.#modelId = m.modelId;
    this.#plan = plan;
    this.#tools = tools;
  }

  async *round({ messages, signal }: RoundInput): AsyncIterable<ModelChunk> {
    const names = buildToolNameMap([...this.#tools.map((t) => t.name), ...toolNamesIn(messages)]);
    const tools: ToolSet = {};
    for (const t of this.#tools) {
      tools[names.toSafe(t.name)] = tool({ description: t.description, inputSchema: jsonSchema(t.parameters as Parameters<typeof jsonSchema>[0]) });
    }
    const prompt = toModelMessages(messages, names);
    const plan = this.#plan;
    let usage: LanguageModelUsage | undefined;
    try {
      const result = streamText({
        model: this.#model,
        ...(prompt.instructions ? { instructions: prompt.instructions } : {}),
        messages: prompt.messages,
        ...(this.#tools.length > 0 ? { tools } : {}),
        maxRetries: 0,
        abortSignal: signal,
        // Errors reach us as stream parts; the SDK's default handler would print them to the console.
        onError: () => undefined,
        ...(plan.temperature !== undefined ? { temperature: plan.temperature } : {}),
        ...(plan.top_p !== undefined ? { topP: plan.top_p } : {}),
        ...(plan.max_output_tokens !== undefined ? { maxOutputTokens: plan.max_output_tokens } : {}),
        ...(plan.stop !== undefined ? { stopSequences: plan.stop } : {}),
        ...(plan.provider_options !== undefined
          ? { providerOptions: plan.provider_options as Record<z.infer<typeof ProviderName>, Record<string, never>> }
          : {}),
      });
      for await (const part of result.fullStream) {
        switch (part.type) {
          case "text-delta":
            if (part.text) yield { type: "text", delta: part.text };
            break;
          case "reasoning-delta":
            if (part.text) yield { type: "reasoning", delta: part.text };
            break;
          case "tool-call": {
            const input = part.input;
            const args = input && typeof input === "object" && !Array.isArray(input) ? (input as Record<string, unknown>) : {};
            yield { type: "tool_call", name: names.fromSafe(part.toolName) ?? part.toolName, args };
            break;
          }
          case "finish-step":
            usage = part.usage;
            break;
          case "error":
            throw part.error;
          default:
            break;
        }
      }
    } catch (err) {
      if (signal.aborted) throw signal.reason;
      throw mapProviderError(err, this.#provider, this.#modelId);
    }
    const u = toModelUsage(usage);
    if (u) yield { type: "usage", usage: u };
  }
}

/** The SDK's usage as ours; null when the provider reported none. */
export function toModelUsage(u: LanguageModelUsage | undefined): ModelUsage | null {
  if (!u || (u.inputTokens === undefined && u.outputTokens === undefined)) return null;
  const out: ModelUsage = { input_tokens: u.inputTokens ?? 0, output_tokens: u.outputTokens ?? 0 };
  const cached = u.inputTokenDetails?.cacheReadTokens;
  const reasoning = u.outputTokenDetails?.reasoningTokens;
  if (cached !== undefined) out.cached_input_tokens = cached;
  if (reasoning !== undefined) out.reasoning_tokens = reasoning;
  return out;
}
