// Compiled run plans, keyed by the exact agent definition they were compiled from (its KV key
// and revision) and the task's executor override (ARCHITECTURE.md §5). A submit that names the
// definition the gateway checked (`agent_source`) is planned from here without asking the
// spawner; any other submit, or a revision not seen yet, asks the spawner, whose answer says
// which revision it compiled. An entry never goes stale: a changed agent has a new revision.
import { type AgentSource, agentKey, type Executor, type RunPlan, type SubmitTask } from "@switchyard/contracts";
import { LRUCache } from "lru-cache";

/**
 * The submit's `agent_source` when it names a definition the submitter may run: its tenant's
 * own agent of that name or the shared one. Anything else (a submit published straight on NATS
 * naming another tenant's agent) is ignored, so it can never be planned from another's entry.
 */
export function trustedSource(cmd: Pick<SubmitTask, "tenant" | "agent" | "agent_source">): AgentSource | undefined {
  const s = cmd.agent_source;
  return s && (s.key === agentKey(cmd.tenant, cmd.agent) || s.key === agentKey(undefined, cmd.agent)) ? s : undefined;
}

export class PlanCache {
  readonly #plans: LRUCache<string, RunPlan>;

  constructor(max = 4096) {
    this.#plans = new LRUCache({ max });
  }

  static key(source: AgentSource, executor: Executor | undefined): string {
    return `${source.key}@${source.revision}|${executor ? JSON.stringify(executor) : ""}`;
  }

  get(source: AgentSource | undefined, executor: Executor | undefined): RunPlan | undefined {
    return source ? this.#plans.get(PlanCache.key(source, executor)) : undefined;
  }

  set(source: AgentSource, executor: Executor | undefined, plan: RunPlan): void {
    this.#plans.set(PlanCache.key(source, executor), plan);
  }
}
