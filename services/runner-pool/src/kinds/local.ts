// The `local` runner kind: the model loop of ARCHITECTURE.md §8 (scripted model, built-in tools). It is
// also what a node runs for a kind listed in RUNNER_KINDS that has no initializer of its own
// (a pool label such as `gpu`: the same loop on nodes set apart).
import { JsonObject } from "@switchyard/contracts";
import { runAgentLoop } from "../agent-loop.ts";
import { createModel } from "../model.ts";
import type { OperatorLink } from "../operator-model.ts";
import { BUILTIN_TOOLS } from "../tools.ts";
import { defineRunnerKind, type RunnerKind } from "./kind.ts";

export interface ModelLoopDeps {
  /** How `operator` agents reach their operators; without it they fail. */
  operators?: OperatorLink;
}

export function modelLoopKind(kind: string, description: string, deps: ModelLoopDeps = {}): RunnerKind<JsonObject> {
  return defineRunnerKind({
    kind,
    description,
    // The loop takes its settings from the agent's run plan; a config is accepted and ignored.
    configSchema: JsonObject,
    run: async (ctx) => {
      const model = createModel(ctx.grant.plan, ctx.inputText, {
        textChunkChars: ctx.textChunkChars,
        grant: ctx.grant,
        ...(deps.operators ? { operators: deps.operators } : {}),
      });
      return runAgentLoop({
        grant: ctx.grant,
        model,
        tools: BUILTIN_TOOLS,
        sink: ctx.events,
        signal: ctx.signal,
        checkpoint: ctx.checkpoint,
        checkRound: ctx.checkRound,
      });
    },
  });
}

export const LOCAL_DESCRIPTION = "The general pool: the agent's model loop (model calls and built-in tools, or an operator's turns) on this node.";
export const localKind = modelLoopKind("local", LOCAL_DESCRIPTION);
