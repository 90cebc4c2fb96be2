// Compiled run plans, keyed by the exact agent definition they were compiled from (its KV key
// and revision) and the task's executor override (ARCHITECTURE.md §5). A submit that names the
// definition the gateway checked (`agent_source`) is planned from here without asking the
// spawner; any other submit, or a revision not seen yet, asks the spawner, whose answer says
// which revision it compiled. An entry never goes stale: a changed agent has a new revision.
import type { AgentSource, Executor, RunPlan } from "@switchyard/contracts";
import { LRUCache } from "lru-cache";

export class PlanCache {
  readonly #plans: LRUCache<string, RunPlan>;
  hits = 0;
  misses = 0;

  constructor(max = 4096) {
    this.#plans = new LRUCache({ max });
  }

  static key(source: AgentSource, executor: Executor | undefined): string {
    return `${source.key}@${source.revision}|${executor ? JSON.stringify(executor) : ""}`;
  }

  get(source: AgentSource | undefined, executor: Executor | undefined): RunPlan | undefined {
    const plan = source ? this.#plans.get(PlanCache.key(source, executor)) : undefined;
    if (plan) this.hits++;
    else this.misses++;
    return plan;
  }

  set(source: AgentSource, executor: Executor | undefined, plan: RunPlan): void {
    this.#plans.set(PlanCache.key(source, executor), plan);
  }

  get size(): number {
    return this.#plans.size;
  }
}
