// Agent definitions (the catalog), executors and the scripted model's script.
import { z } from "zod";
import { JsonObject, Slug } from "./common.ts";

/** Where the agent loop runs: this fleet's general pool, or a runner of a named kind. */
export const LocalExecutor = z.object({ type: z.literal("local") }).strict();
export const RemoteExecutor = z
  .object({
    type: z.literal("remote"),
    runner: z.object({ kind: Slug, config: JsonObject.default({}) }).strict(),
  })
  .strict();
export const Executor = z.discriminatedUnion("type", [LocalExecutor, RemoteExecutor]);
export type Executor = z.infer<typeof Executor>;

/** The runner kind an executor dispatches to: `local` is the general pool. */
export function runnerKindOf(executor: Executor): string {
  return executor.type === "local" ? "local" : executor.runner.kind;
}

export const ToolCallSpec = z.object({ name: z.string().min(1).max(128), args: JsonObject.default({}) }).strict();

/** One round of the built-in `scripted` model (DESIGN §8). */
export const ScriptStep = z
  .object({
    text: z.string().max(1_000_000).optional(),
    tool: ToolCallSpec.optional(),
    sleep_ms: z.number().int().min(0).max(3_600_000).optional(),
    fail: z
      .object({ message: z.string().max(10_000), retryable: z.boolean().default(false) })
      .strict()
      .optional(),
    on_attempts: z.array(z.number().int().min(1)).optional(),
  })
  .strict();
export type ScriptStep = z.infer<typeof ScriptStep>;

export const AgentLimits = z
  .object({
    max_rounds: z.number().int().min(1).max(1000).default(16),
    max_tokens: z.number().int().min(1).optional(),
    deadline_ms: z.number().int().min(1).optional(),
  })
  .strict();
export type AgentLimits = z.infer<typeof AgentLimits>;

export const RetryPolicy = z
  .object({
    max_attempts: z.number().int().min(1).max(100).default(3),
    initial_backoff_ms: z.number().int().min(0).default(500),
    max_backoff_ms: z.number().int().min(0).default(30_000),
  })
  .strict();
export type RetryPolicy = z.infer<typeof RetryPolicy>;

export const AgentKind = z.string().regex(/^[a-z][a-z0-9_-]*$/);

/** An agent definition as stored in the catalog and accepted by `PUT /v1/agents/:name`. */
export const AgentDef = z
  .object({
    name: Slug,
    kind: AgentKind.default("llm"),
    description: z.string().max(10_000).optional(),
    /** Required for `llm` agents; an `operator` agent has none (its operator answers the turns). */
    model: z.string().min(1).max(200).optional(),
    /** For kind `operator`: the id of the registered operator that handles this agent's turns. */
    operator_ref: Slug.optional(),
    instructions: z.string().max(1_000_000).default(""),
    tools: z.array(z.string().min(1).max(128)).max(256).default([]),
    executor: Executor.default({ type: "local" }),
    limits: AgentLimits.default({ max_rounds: 16 }),
    retry: RetryPolicy.default({ max_attempts: 3, initial_backoff_ms: 500, max_backoff_ms: 30_000 }),
    script: z.array(ScriptStep).max(1000).optional(),
  })
  .strict()
  .superRefine((def, ctx) => {
    if (def.kind === "operator" && !def.operator_ref) {
      ctx.addIssue({ code: "custom", path: ["operator_ref"], message: "an agent of kind 'operator' names its operator in operator_ref" });
    }
    if (def.kind !== "operator" && def.operator_ref) {
      ctx.addIssue({ code: "custom", path: ["operator_ref"], message: "operator_ref is only for agents of kind 'operator'" });
    }
    if (def.kind !== "operator" && def.model === undefined) {
      ctx.addIssue({ code: "custom", path: ["model"], message: "required" });
    }
    if (def.model === "scripted" && (!def.script || def.script.length === 0)) {
      ctx.addIssue({ code: "custom", path: ["script"], message: "model 'scripted' needs a non-empty script" });
    }
    if (def.model !== "scripted" && def.script) {
      ctx.addIssue({ code: "custom", path: ["script"], message: "script is only for model 'scripted'" });
    }
  });
export type AgentDef = z.infer<typeof AgentDef>;
/** What a client writes: defaults not yet applied. */
export type AgentDefInput = z.input<typeof AgentDef>;

/**
 * The run plan: an agent definition compiled by the spawner into what a runner needs for one
 * task. Stored in the task record so a re-dispatched attempt runs the same plan even if the
 * agent was edited meanwhile.
 */
export const RunPlan = z.object({
  v: z.literal(1),
  agent: Slug,
  agent_kind: AgentKind,
  model: z.string(),
  /** Kind `operator`: the operator that answers each turn instead of a model. */
  operator_ref: Slug.optional(),
  instructions: z.string(),
  tools: z.array(z.string()),
  executor: Executor,
  runner_kind: Slug,
  limits: AgentLimits,
  retry: RetryPolicy,
  script: z.array(ScriptStep).optional(),
});
export type RunPlan = z.infer<typeof RunPlan>;
