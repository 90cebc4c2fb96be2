// The model interface: one round is a stream of text deltas and tool calls. Providers plug
// in behind it; `scripted` is the built-in deterministic one.
import { type ChatMessage, type ClaimGranted, type RunPlan, SwitchyardError } from "@switchyard/contracts";
import { type OperatorLink, OperatorModel } from "./operator-model.ts";
import { ScriptedModel } from "./scripted-model.ts";

export type ModelChunk = { type: "text"; delta: string } | { type: "tool_call"; name: string; args: Record<string, unknown> };

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
export function createModel(plan: RunPlan, inputText: string, opts: { textChunkChars: number; operators?: OperatorLink; grant?: ClaimGranted }): Model {
  if (plan.agent_kind === "operator") {
    if (!opts.operators || !opts.grant) throw new SwitchyardError("model_error", "this runner cannot reach operators", { retryable: false });
    return new OperatorModel(opts.operators, opts.grant);
  }
  if (plan.model === "scripted") return new ScriptedModel(plan.script ?? [], inputText, opts.textChunkChars);
  throw new SwitchyardError("model_error", `model '${plan.model}' is not available on this runner (providers: scripted)`, { retryable: false });
}
