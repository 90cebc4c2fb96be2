// The agent loop for one attempt (ARCHITECTURE.md §8): model round (streamed) → the kernel's check →
// tool calls → next round, until a final message. It reports facts (events, the round's
// usage and tool calls, checkpoints, the outcome); the kernel decides what they mean: budgets,
// approvals and external tools are its verdicts, and a parked or stopped task simply ends
// this attempt. A final round (no tool calls) is not reported: it can neither park nor run a
// side effect, so only its budgets matter, judged here by the kernel's own function. It never retries.
import {
  type ChatMessage,
  type Checkpoint,
  type ClaimGranted,
  overBudget,
  type PendingCall,
  type RoundVerdict,
  roundOverBudget,
  SwitchyardError,
  type TaskInput,
  type Usage,
  type WireError,
} from "@switchyard/contracts";
import type { RoundCheck, RunEvents, RunOutcome } from "./kinds/kind.ts";
import type { Model, ModelUsage } from "./model.ts";
import { runTool, type Tool, type ToolOutcome } from "./tools.ts";

export interface LoopContext {
  grant: ClaimGranted;
  model: Model;
  tools: Record<string, Tool>;
  /** The tool names the agent may call (default: the plan's `tools`); MCP tools are added by the kind. */
  allowed?: readonly string[];
  sink: RunEvents;
  signal: AbortSignal;
  /** Called after each tool round, once that round's events are durable. */
  checkpoint: (cp: Checkpoint) => Promise<void>;
  /** Reports a finished model round with tool calls to the kernel and returns its verdict. */
  checkRound: (report: RoundCheck) => Promise<RoundVerdict>;
}

export function inputText(input: TaskInput): string {
  if (typeof input === "string") return input;
  for (let i = input.length - 1; i >= 0; i--) if (input[i]?.role === "user") return input[i]?.content ?? "";
  return input[input.length - 1]?.content ?? "";
}

function initialMessages(grant: ClaimGranted): ChatMessage[] {
  const msgs: ChatMessage[] = [];
  if (grant.plan.instructions) msgs.push({ role: "system", content: grant.plan.instructions });
  if (typeof grant.input === "string") msgs.push({ role: "user", content: grant.input });
  else msgs.push(...grant.input);
  return msgs;
}

const tokens = (chars: number) => Math.ceil(chars / 4);

export async function runAgentLoop(ctx: LoopContext): Promise<RunOutcome> {
  const { grant, sink, signal } = ctx;
  const messages = grant.checkpoint ? [...grant.checkpoint.messages] : initialMessages(grant);
  // Cumulative over every earlier attempt and resume, so usage events never go backwards.
  let usage: Usage = grant.usage;
  let completedRounds = grant.checkpoint?.round ?? 0;

  try {
    if (grant.resume) {
      // The model part of this round ran before the task parked (its message is in the
      // checkpoint); now its tool calls run, with the answers the kernel recorded.
      const round = grant.resume.round;
      // The calls that may run, run at once (the kernel approved the round as a whole).
      const outcomes = await Promise.all(grant.resume.calls.map((call) => resolveParkedCall(ctx, call)));
      if (signal.aborted) return { kind: "aborted", usage };
      for (const [i, call] of grant.resume.calls.entries()) {
        const outcome = outcomes[i] as ToolOutcome;
        await sink.emit("tool.result", { round, call_id: call.call_id, tool: call.tool, ...outcome });
        messages.push({ role: "tool", content: JSON.stringify({ call_id: call.call_id, tool: call.tool, ...outcome }) });
      }
      await sink.emit("step.finish", { round });
      completedRounds = round;
      await sink.flush();
      await ctx.checkpoint({ round: completedRounds, messages, usage });
    }

    for (;;) {
      if (signal.aborted) return { kind: "aborted", usage };
      const round = completedRounds + 1;
      await sink.emit("step.start", { round });

      let text = "";
      let reported: ModelUsage | null = null;
      const asked: { name: string; args: Record<string, unknown> }[] = [];
      for await (const chunk of ctx.model.round({ round, attempt: grant.attempt, messages, signal })) {
        if (signal.aborted) return { kind: "aborted", usage };
        if (chunk.type === "text") {
          text += chunk.delta;
          await sink.emit("text.delta", { round, delta: chunk.delta });
        } else if (chunk.type === "reasoning") await sink.emit("reasoning.delta", { round, delta: chunk.delta });
        else if (chunk.type === "usage") reported = chunk.usage;
        else asked.push({ name: chunk.name, args: chunk.args });
      }
      if (signal.aborted) return { kind: "aborted", usage };

      if (reported) usage = addReported(usage, reported);
      else {
        // A model that reports no usage (scripted, an operator): estimated as characters / 4.
        const promptChars = messages.reduce((n, m) => n + m.content.length, 0);
        const outChars = text.length + asked.reduce((n, c) => n + c.name.length + JSON.stringify(c.args).length, 0);
        usage = addUsage(usage, tokens(promptChars), tokens(outChars));
      }
      const mayPark = grant.plan.approval.policy !== "never" || grant.plan.external_tools.length > 0;
      const calls = asked.map((c, i) => ({ call_id: `call_${round}_${i + 1}`, tool: c.name, args: c.args }));
      messages.push({ role: "assistant", content: text, ...(calls.length > 0 ? { tool_calls: calls } : {}) });
      await sink.emit("message", { round, role: "assistant", content: text });
      await sink.emit("usage", usage);

      for (const c of calls) {
        const external = grant.plan.external_tools.some((x) => x.name === c.tool);
        await sink.emit("tool.call", { round, ...c, ...(external ? { external: true } : {}) });
      }
      if (calls.length === 0 && judgesFinalRounds(grant)) {
        // A final round asks the kernel nothing (ARCHITECTURE.md §8): it cannot park, and it runs
        // nothing a zombie run could repeat. A budget it broke fails the attempt with the error the
        // kernel would have recorded (not retryable); a cancel or a fence arrives as an abort, and
        // the kernel fences the `finished` report of a run that is no longer the task's.
        const over = grant.created_at
          ? overBudget(grant.plan.limits, grant.created_at, { round, usage, calls }, Date.now())
          : roundOverBudget(grant.plan.limits, { round, usage, calls });
        if (over) return { kind: "failed", error: over, usage };
        await sink.emit("step.finish", { round });
        return { kind: "finished", result: { text }, usage };
      }
      // The kernel's events (input_required, approval.requested) must follow ours.
      await sink.flush();
      // The fence before side effects: a run that is no longer the task's gets `stop` here, so its tools never run twice.
      const verdict = await ctx.checkRound({
        round,
        usage,
        calls,
        // The checkpoint to park at: only the kernel's park uses it, and a plan with no approval
        // policy and no external tools never parks, so it does not ship the conversation.
        checkpoint: calls.length > 0 && mayPark ? { round: completedRounds, messages: [...messages], usage } : null,
      });
      if (verdict.verdict === "park") return { kind: "parked", usage };
      if (verdict.verdict === "stop") return { kind: "stopped", usage, message: verdict.message };
      // An abort that landed while the kernel was deciding: no tool may start after it.
      if (signal.aborted) return { kind: "aborted", usage };

      if (calls.length === 0) {
        await sink.emit("step.finish", { round });
        return { kind: "finished", result: { text }, usage };
      }
      // Every call passed the kernel's check: they run concurrently; results go out in call order.
      const allowed = ctx.allowed ?? grant.plan.tools;
      const outcomes = await Promise.all(calls.map((call) => runTool(ctx.tools, allowed, call.tool, call.args, signal)));
      if (signal.aborted) return { kind: "aborted", usage };
      for (const [i, call] of calls.entries()) {
        const outcome = outcomes[i] as ToolOutcome;
        await sink.emit("tool.result", { round, call_id: call.call_id, tool: call.tool, ...outcome });
        messages.push({ role: "tool", content: JSON.stringify({ call_id: call.call_id, tool: call.tool, ...outcome }) });
      }
      await sink.emit("step.finish", { round });
      completedRounds = round;
      await sink.flush();
      await ctx.checkpoint({ round: completedRounds, messages, usage });
    }
  } catch (err) {
    if (signal.aborted) return { kind: "aborted", usage };
    const error: WireError =
      err instanceof SwitchyardError ? err.toWire() : { code: "runner_error", message: (err as Error)?.message ?? String(err), retryable: true };
    return fail(sink, usage, error);
  }
}

/**
 * Whether this run can judge a final round's budgets alone: tokens and rounds are facts of the
 * round, and a deadline counts from the task's creation, which the grant carries (`created_at`;
 * a kernel too old to send it leaves a plan with a deadline to the kernel's check).
 */
function judgesFinalRounds(grant: ClaimGranted): boolean {
  return grant.plan.limits.deadline_ms === undefined || grant.created_at !== undefined;
}

/** A call of a resumed round: run it (no approval needed, or approved), or report its answer. */
async function resolveParkedCall(ctx: LoopContext, call: PendingCall): Promise<ToolOutcome> {
  const a = call.answer;
  if (call.kind === "run" || (a?.type === "approval" && a.decision === "approve"))
    return runTool(ctx.tools, ctx.allowed ?? ctx.grant.plan.tools, call.tool, call.args, ctx.signal);
  if (a?.type === "approval") return { result: { rejected: true, reason: a.reason ?? "rejected" } };
  if (a?.type === "tool_result") return { result: a.result };
  if (a?.type === "tool_error") return { error: { code: a.error.code, message: a.error.message, retryable: false } };
  // The kernel resumes only when every call is answered; this would be its bug.
  throw new SwitchyardError("runner_error", `call ${call.call_id} was resumed without an answer`, { retryable: false });
}

async function fail(sink: RunEvents, usage: Usage, error: WireError): Promise<RunOutcome> {
  await sink.emit("error", error).catch(() => undefined);
  return { kind: "failed", error, usage };
}

/** Adds a round's provider-reported usage to the cumulative one (cached and reasoning tokens where given). */
function addReported(u: Usage, r: ModelUsage): Usage {
  const out = addUsage(u, r.input_tokens, r.output_tokens);
  if (r.cached_input_tokens !== undefined || u.cached_input_tokens !== undefined)
    out.cached_input_tokens = (u.cached_input_tokens ?? 0) + (r.cached_input_tokens ?? 0);
  if (r.reasoning_tokens !== undefined || u.reasoning_tokens !== undefined) out.reasoning_tokens = (u.reasoning_tokens ?? 0) + (r.reasoning_tokens ?? 0);
  return out;
}

function addUsage(u: Usage, input: number, output: number): Usage {
  return { ...u, input_tokens: u.input_tokens + input, output_tokens: u.output_tokens + output, total_tokens: u.total_tokens + input + output };
}
