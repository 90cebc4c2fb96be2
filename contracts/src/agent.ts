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

/** JSON with object keys sorted, so two executors that differ only in key order compare equal. */
function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(",")}]`;
  if (v !== null && typeof v === "object") {
    const entries = Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonicalJson(x)}`).join(",")}}`;
  }
  return JSON.stringify(v) ?? "null";
}

/**
 * Why a task may not run its agent with `executor`, or null when it may: a task's executor
 * must equal the agent's, unless its kind is in the agent's `executor_overrides`. Checked by
 * the gateway at submit and by the spawner when it compiles the run plan.
 */
export function executorOverrideRefusal(
  agent: { name: string; executor: Executor; executor_overrides: readonly string[] },
  executor: Executor | undefined,
): string | null {
  if (!executor || canonicalJson(executor) === canonicalJson(agent.executor)) return null;
  const kind = runnerKindOf(executor);
  if (agent.executor_overrides.includes(kind)) return null;
  return agent.executor_overrides.length === 0
    ? `agent '${agent.name}' does not let a task choose its executor (its executor_overrides is empty); omit executor or give the agent's own`
    : `agent '${agent.name}' lets a task choose only the runner kinds ${agent.executor_overrides.map((k) => `'${k}'`).join(", ")} (executor_overrides), not '${kind}'`;
}

/** Tool names: built-in (`echo`) or dotted (`payments.charge`). */
export const ToolName = z
  .string()
  .max(128)
  .regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/, "must be a non-empty name of letters, digits, '_', '.' and '-'");

export const ToolCallSpec = z.object({ name: z.string().min(1).max(128), args: JsonObject.default({}) }).strict();

/**
 * A tool its client executes: the call is emitted as `tool.call` with `external: true`, the
 * task parks, and `POST /v1/tasks/:id/tool-results` answers it. `parameters` and `returns`
 * are JSON Schemas; a result that does not match `returns` is refused with 400.
 */
export const ExternalTool = z
  .object({
    name: ToolName,
    description: z.string().max(10_000).default(""),
    parameters: JsonObject.default({ type: "object" }),
    returns: JsonObject.optional(),
    external: z.literal(true),
  })
  .strict();
export type ExternalTool = z.infer<typeof ExternalTool>;

/** An entry of an agent's `tools`: a built-in tool by name, or an external tool. */
export const ToolDecl = z.union([ToolName, ExternalTool]);
export type ToolDecl = z.infer<typeof ToolDecl>;

// ---- approval policies (decided by the kernel before a tool call runs) ----

const ToolGlobs = z.array(z.string().min(1).max(256)).min(1).max(100);
/**
 * The glob syntax approval policies accept: tool-name characters, `*` (any run of characters)
 * and `?` (one character). Matched on a linear-time engine by the kernel; checked at agent PUT.
 */
export const TOOL_GLOB = /^[A-Za-z0-9_.*?-]{1,256}$/;
/** Policies in one agent's approval tree, composites and their children counted. */
export const MAX_APPROVAL_POLICIES = 256;
const TOOL_GLOB_MESSAGE = "a glob of letters, digits, '_', '.', '-', '*' (any run of characters) and '?' (one character), at most 256 long";
/** Settings read from the top-level policy only: how long a person may take, and what then. */
const ApprovalTimeouts = {
  /** How long an approval may wait; absent: until the task's deadline. */
  timeout_ms: z.number().int().min(1).optional(),
  /** On timeout: `reject` the call (the model is told) or `fail` the task (`approval_timeout`). Default reject. */
  on_timeout: z.enum(["reject", "fail"]).optional(),
};
export const AlwaysPolicy = z.object({ policy: z.literal("always"), ...ApprovalTimeouts }).strict();
export const NeverPolicy = z.object({ policy: z.literal("never"), ...ApprovalTimeouts }).strict();
/** Calls of tools whose name matches one of the globs need approval. */
export const PatternPolicy = z.object({ policy: z.literal("pattern"), tools: ToolGlobs, ...ApprovalTimeouts }).strict();
/**
 * Calls of the matching tools (default: all) need approval when the number at `arg` (a dotted
 * path into the args, e.g. `amount` or `payment.amount`) is greater than `limit`, or is
 * missing or not a number.
 */
export const ThresholdPolicy = z
  .object({
    policy: z.literal("threshold"),
    tools: ToolGlobs.default(["*"]),
    arg: z.string().min(1).max(256),
    limit: z.number(),
    ...ApprovalTimeouts,
  })
  .strict();
/** `all`: approval when every policy asks for it; `any`: when at least one does. */
export const CompositePolicy = z
  .object({
    policy: z.literal("composite"),
    mode: z.enum(["all", "any"]),
    policies: z
      .array(z.lazy(() => ApprovalPolicy))
      .min(1)
      .max(32),
    ...ApprovalTimeouts,
  })
  .strict();
type Timeouts = { timeout_ms?: number | undefined; on_timeout?: "reject" | "fail" | undefined };
export type ApprovalPolicy =
  | z.infer<typeof AlwaysPolicy>
  | z.infer<typeof NeverPolicy>
  | z.infer<typeof PatternPolicy>
  | z.infer<typeof ThresholdPolicy>
  | ({ policy: "composite"; mode: "all" | "any"; policies: ApprovalPolicy[] } & Timeouts);
type ApprovalPolicyInput =
  | z.input<typeof AlwaysPolicy>
  | z.input<typeof NeverPolicy>
  | z.input<typeof PatternPolicy>
  | z.input<typeof ThresholdPolicy>
  | ({ policy: "composite"; mode: "all" | "any"; policies: ApprovalPolicyInput[] } & Timeouts);
/** Whether a tool call needs a person's approval: always, never, by tool-name glob, by a numeric argument, or a combination. */
export const ApprovalPolicy: z.ZodType<ApprovalPolicy, ApprovalPolicyInput> = z.discriminatedUnion("policy", [
  AlwaysPolicy,
  NeverPolicy,
  PatternPolicy,
  ThresholdPolicy,
  CompositePolicy,
]);

/** One round of the built-in `scripted` model (ARCHITECTURE.md §8). */
export const ScriptStep = z
  .object({
    text: z.string().max(1_000_000).optional(),
    tool: ToolCallSpec.optional(),
    /** Several tool calls in one round (after `tool`, when both are given). */
    tools: z.array(ToolCallSpec).min(1).max(32).optional(),
    sleep_ms: z.number().int().min(0).max(3_600_000).optional(),
    fail: z
      .object({ message: z.string().max(10_000), retryable: z.boolean().default(false) })
      .strict()
      .optional(),
    on_attempts: z.array(z.number().int().min(1)).optional(),
  })
  .strict();
export type ScriptStep = z.infer<typeof ScriptStep>;

/**
 * Budgets (kernel-enforced; exceeding one fails the task with `budget_exceeded`): model rounds,
 * total tokens (input + output, over every attempt), and a deadline in ms from creation.
 */
export const AgentLimits = z
  .object({
    max_rounds: z.number().int().min(1).max(1000).default(16),
    max_tokens: z.number().int().min(1).optional(),
    deadline_ms: z.number().int().min(1).optional(),
  })
  .strict();
export type AgentLimits = z.infer<typeof AgentLimits>;

/** A task's own limits: each may lower the agent's, never raise it. */
export const TaskLimits = z
  .object({
    max_rounds: z.number().int().min(1).max(1000).optional(),
    max_tokens: z.number().int().min(1).optional(),
    deadline_ms: z.number().int().min(1).optional(),
  })
  .strict();
export type TaskLimits = z.infer<typeof TaskLimits>;

/** The limit fields a task sets higher than its agent allows (an agent without a limit allows any). */
export function raisedLimits(agent: AgentLimits, task: TaskLimits): { field: keyof TaskLimits; agent: number; task: number }[] {
  const out: { field: keyof TaskLimits; agent: number; task: number }[] = [];
  for (const field of ["max_rounds", "max_tokens", "deadline_ms"] as const) {
    const a = agent[field];
    const t = task[field];
    if (a !== undefined && t !== undefined && t > a) out.push({ field, agent: a, task: t });
  }
  return out;
}

/** The agent's limits lowered by the task's: the smaller of each. */
export function effectiveLimits(agent: AgentLimits, task: TaskLimits | undefined): AgentLimits {
  if (!task) return agent;
  const min = (a: number | undefined, t: number | undefined) => (a === undefined ? t : t === undefined ? a : Math.min(a, t));
  const out: AgentLimits = { max_rounds: min(agent.max_rounds, task.max_rounds) as number };
  const maxTokens = min(agent.max_tokens, task.max_tokens);
  const deadline = min(agent.deadline_ms, task.deadline_ms);
  if (maxTokens !== undefined) out.max_tokens = maxTokens;
  if (deadline !== undefined) out.deadline_ms = deadline;
  return out;
}

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
    tools: z.array(ToolDecl).max(256).default([]),
    executor: Executor.default({ type: "local" }),
    /**
     * Runner kinds a task may choose instead of `executor` (e.g. ["local", "gpu"]). Default
     * none: a task's `executor`, when given, must equal the agent's.
     */
    executor_overrides: z.array(Slug).max(32).default([]),
    limits: AgentLimits.default({ max_rounds: 16 }),
    retry: RetryPolicy.default({ max_attempts: 3, initial_backoff_ms: 500, max_backoff_ms: 30_000 }),
    approval: ApprovalPolicy.default({ policy: "never" }),
    script: z.array(ScriptStep).max(1000).optional(),
  })
  .strict()
  .superRefine((def, ctx) => {
    const seen = new Set<string>();
    for (const [i, t] of def.tools.entries()) {
      const name = typeof t === "string" ? t : t.name;
      if (seen.has(name)) ctx.addIssue({ code: "custom", path: ["tools", i], message: `tool '${name}' is declared twice` });
      seen.add(name);
    }
    let policies = 0;
    const globs = (p: ApprovalPolicy, path: (string | number)[]): void => {
      policies++;
      if (p.policy === "pattern" || p.policy === "threshold") {
        for (const [i, g] of p.tools.entries())
          if (!TOOL_GLOB.test(g)) ctx.addIssue({ code: "custom", path: [...path, "tools", i], message: TOOL_GLOB_MESSAGE });
      }
      if (p.policy === "composite") for (const [i, child] of p.policies.entries()) globs(child, [...path, "policies", i]);
    };
    globs(def.approval, ["approval"]);
    // The kernel evaluates the whole tree for every tool call: keep it small.
    if (policies > MAX_APPROVAL_POLICIES)
      ctx.addIssue({
        code: "custom",
        path: ["approval"],
        message: `at most ${MAX_APPROVAL_POLICIES} policies in all, nested ones included (${policies} given)`,
      });
    if (def.approval.policy === "composite") {
      const nested = (p: ApprovalPolicy, path: (string | number)[]): void => {
        if (p.policy !== "composite") return;
        for (const [i, child] of p.policies.entries()) {
          if (child.timeout_ms !== undefined || child.on_timeout !== undefined) {
            ctx.addIssue({ code: "custom", path: [...path, "policies", i], message: "timeout_ms and on_timeout belong on the top-level policy" });
          }
          nested(child, [...path, "policies", i]);
        }
      };
      nested(def.approval, ["approval"]);
    }
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
  /** Every tool name the agent may call, external ones included. */
  tools: z.array(z.string()),
  /** The tools its client executes. */
  external_tools: z.array(ExternalTool).default([]),
  executor: Executor,
  runner_kind: Slug,
  /** The agent's limits, lowered by the task's own. */
  limits: AgentLimits,
  retry: RetryPolicy,
  approval: ApprovalPolicy.default({ policy: "never" }),
  script: z.array(ScriptStep).optional(),
});
export type RunPlan = z.infer<typeof RunPlan>;

/**
 * KV `sy_agents` keys: a tenant's agent under `<tenant>.<name>`, a shared agent (loaded from
 * AGENTS_DIR, readable by every tenant, writable by none over the API) under `_shared.<name>`.
 * Tenants are slugs and cannot start with `_`, so the two never meet.
 */
export const SHARED_AGENTS = "_shared";
export function agentKey(tenant: string | undefined, name: string): string {
  return `${tenant ?? SHARED_AGENTS}.${name}`;
}
