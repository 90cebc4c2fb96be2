// Compiles an agent definition into the run plan a runner executes for one task.
import { type AgentDef, type Executor, executorOverrideRefusal, type RunPlan, runnerKindOf, SwitchyardError } from "@switchyard/contracts";

/**
 * The agent-kind registry: one factory per kind, compiling a definition into a run plan.
 * `llm` runs the model loop; `operator` runs the same loop with a registered operator
 * answering each turn instead of a model (docs/how-to-add-an-agent-kind.md).
 */
const COMPILERS: Record<string, (def: AgentDef, executor: Executor) => RunPlan> = {
  llm: (def, executor) => ({ ...commonPlan(def, executor), model: def.model ?? "", ...(def.script ? { script: def.script } : {}) }),
  operator: (def, executor) => ({ ...commonPlan(def, executor), model: "operator", ...(def.operator_ref ? { operator_ref: def.operator_ref } : {}) }),
};

/** What every kind's plan carries: identity, tools (external ones split out), executor, limits, policies. */
function commonPlan(def: AgentDef, executor: Executor): Omit<RunPlan, "model"> {
  return {
    v: 1,
    agent: def.name,
    agent_kind: def.kind,
    instructions: def.instructions,
    tools: def.tools.map((t) => (typeof t === "string" ? t : t.name)),
    external_tools: def.tools.filter((t) => typeof t !== "string"),
    executor,
    runner_kind: runnerKindOf(executor),
    limits: def.limits,
    retry: def.retry,
    approval: def.approval,
  };
}

export function isKnownAgentKind(kind: string): boolean {
  return Object.hasOwn(COMPILERS, kind);
}

/** The task's executor, when given, overrides the agent's default if the agent allows its kind (`executor_overrides`). */
export function compileRunPlan(def: AgentDef, executorOverride?: Executor): RunPlan {
  const compile = Object.hasOwn(COMPILERS, def.kind) ? COMPILERS[def.kind] : undefined;
  if (!compile) throw new SwitchyardError("invalid_agent", `agent kind '${def.kind}' has no factory on this spawner`);
  const refusal = executorOverrideRefusal(def, executorOverride);
  if (refusal) throw new SwitchyardError("executor_not_allowed", refusal, { retryable: false, details: [{ path: "executor", message: refusal }] });
  return compile(def, executorOverride ?? def.executor);
}
