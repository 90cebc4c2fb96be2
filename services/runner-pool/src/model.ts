// The model interface: one round is a stream of text (and reasoning) deltas and tool calls,
// then the usage the provider reported. Providers plug in behind it: `scripted` is the built-in
// deterministic one, `<provider>:<model-id>` a real model through the `ai` SDK (ai-model.ts).
import { type ChatMessage, type ClaimGranted, modelProvider, type RunPlan, SwitchyardError } from "@switchyard/contracts";
import { AiSdkModel } from "./ai-model.ts";
import { type OperatorLink, OperatorModel } from "./operator-model.ts";
import type { ProviderConfig } from "./providers.ts";
import { ScriptedModel } from "./scripted-model.ts";
import type { ToolSpec } from "./tools.ts";

/** Token usage of one round as the provider reported it. */
export interface ModelUsage {
  input_tokens: number;
  output_tokens: number;
  cached_input_tokens?: number;
  reasoning_tokens?: number;
}

export type ModelChunk =
  | { type: "text"; delta: string }
  | { type: "reasoning"; delta: string }
  | { type: "tool_call"; name: string; args: Record<string, unknown> }
  /** The round's usage, once, at its end (a model that reports none is estimated by the loop). */
  | { type: "usage"; usage: ModelUsage };

export interface RoundInput {
  /** 1-based round number within the task (continues across attempts). */
  round: number;
  attempt: number;
  messages: readonly ChatMessage[];
  signal: AbortSignal;
}

export interface Model {
  /** Streams one round. Throws a SwitchyardError (model_error) when the model fails. */
  round(input: RoundInput): AsyncIterable<ModelChunk>;
}

/** The model of a run: an operator for `operator` agents, else the plan's model. */
export function createModel(
  plan: RunPlan,
  inputText: string,
  opts: {
    textChunkChars: number;
    operators?: OperatorLink;
    grant?: ClaimGranted;
    providers?: ReadonlyMap<string, ProviderConfig>;
    tools?: readonly ToolSpec[];
  },
): Model {
  if (plan.agent_kind === "operator") {
    if (!opts.operators || !opts.grant) throw new SwitchyardError("model_error", "this runner cannot reach operators", { retryable: false });
    return new OperatorModel(opts.operators, opts.grant);
  }
  if (plan.model === "scripted") return new ScriptedModel(plan.script ?? [], inputText, opts.textChunkChars);
  const provider = modelProvider(plan.model);
  if (provider && opts.providers?.has(provider)) return new AiSdkModel(opts.providers, plan, opts.tools ?? []);
  const have = ["scripted", ...(opts.providers?.keys() ?? [])].join(", ");
  // Another node may have the provider: retryable, so the kernel dispatches the task again.
  throw new SwitchyardError("model_error", `model '${plan.model}' is not available on this runner (providers: ${have})`, {
    retryable: provider !== null,
    details: { provider },
  });
}
