// The `local` runner kind: the model loop of ARCHITECTURE.md §8 (scripted model, built-in tools). It is
// also what a node runs for a kind listed in RUNNER_KINDS that has no initializer of its own
// (a pool label such as `gpu`: the same loop on nodes set apart).
import { JsonObject } from "@switchyard/contracts";
import { runAgentLoop } from "../agent-loop.ts";
import type { McpHub } from "../mcp.ts";
import { createModel } from "../model.ts";
import type { OperatorLink } from "../operator-model.ts";
import type { ProviderConfig } from "../providers.ts";
import { BUILTIN_TOOL_SPECS, BUILTIN_TOOLS, type ToolSpec } from "../tools.ts";
import { defineRunnerKind, type RunnerKind } from "./kind.ts";

export interface ModelLoopDeps {
  /** How `operator` agents reach their operators; without it they fail. */
  operators?: OperatorLink;
  /** This node's model providers (from its environment). */
  providers?: ReadonlyMap<string, ProviderConfig>;
  /** This node's MCP servers. */
  mcp?: McpHub;
}

export function modelLoopKind(kind: string, description: string, deps: ModelLoopDeps = {}): RunnerKind<JsonObject> {
  return defineRunnerKind({
    kind,
    description,
    // The loop takes its settings from the agent's run plan; a config is accepted and ignored.
    configSchema: JsonObject,
    run: async (ctx) => {
      const plan = ctx.grant.plan;
      // What the model is told about its tools: built-ins it lists, external tools, MCP tools it selects.
      const mcp = deps.mcp?.toolsFor(plan.mcp ?? []) ?? { specs: [], tools: {} };
      const specs: ToolSpec[] = [
        ...plan.tools.flatMap((t) => (Object.hasOwn(BUILTIN_TOOL_SPECS, t) ? [BUILTIN_TOOL_SPECS[t] as ToolSpec] : [])),
        ...plan.external_tools.map((t) => ({ name: t.name, description: t.description, parameters: t.parameters })),
        ...mcp.specs,
      ];
      const model = createModel(plan, ctx.inputText, {
        textChunkChars: ctx.textChunkChars,
        grant: ctx.grant,
        tools: specs,
        ...(deps.operators ? { operators: deps.operators } : {}),
        ...(deps.providers ? { providers: deps.providers } : {}),
      });
      return runAgentLoop({
        grant: ctx.grant,
        model,
        tools: { ...BUILTIN_TOOLS, ...mcp.tools },
        allowed: [...plan.tools, ...Object.keys(mcp.tools)],
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
