// Compiles an agent definition into the run plan a runner executes for one task.
import { type AgentDef, type Executor, type RunPlan, runnerKindOf, SwitchyardError } from "@switchyard/contracts";

/** Agent kinds the spawner can compile today; `operator` and others arrive with their factories. */
const COMPILERS: Record<string, (def: AgentDef, executor: Executor) => RunPlan> = {
  llm: (def, executor) => ({
    v: 1,
    agent: def.name,
    agent_kind: def.kind,
    model: def.model,
    instructions: def.instructions,
    tools: def.tools.map((t) => (typeof t === "string" ? t : t.name)),
    external_tools: def.tools.filter((t) => typeof t !== "string"),
    executor,
    runner_kind: runnerKindOf(executor),
    limits: def.limits,
    retry: def.retry,
    approval: def.approval,
    ...(def.script ? { script: def.script } : {}),
  }),
};

export function isKnownAgentKind(kind: string): boolean {
  return Object.hasOwn(COMPILERS, kind);
}

/** The task's executor, when given, overrides the agent's default. */
export function compileRunPlan(def: AgentDef, executorOverride?: Executor): RunPlan {
  const compile = Object.hasOwn(COMPILERS, def.kind) ? COMPILERS[def.kind] : undefined;
  if (!compile) throw new SwitchyardError("invalid_agent", `agent kind '${def.kind}' has no factory on this spawner`);
  return compile(def, executorOverride ?? def.executor);
}
