// The agent loop for one attempt (ARCHITECTURE.md §8): model round (streamed) → the kernel's check →
// tool calls → next round, until a final message. It reports facts (events, the round's
// usage and tool calls, checkpoints, the outcome); the kernel decides what they mean: budgets,
// approvals and external tools are its verdicts, and a parked or stopped task simply ends
// this attempt. It never retries.
import {
  type ChatMessage,
  type Checkpoint,
  type ClaimGranted,
  type PendingCall,
  type RoundVerdict,
  SwitchyardError,
  type TaskInput,
  type Usage,
  type WireError,
} from "@switchyard/contracts";
import type { RoundCheck, RunEvents, RunOutcome } from "./kinds/kind.ts";
import type { Model } from "./model.ts";
import { runTool, type Tool, type ToolOutcome } from "./tools.ts";

export interface LoopContext {
  grant: ClaimGranted;
  model: Model;
  tools: Record<string, Tool>;
  sink: RunEvents;
  signal: AbortSignal;
  /** Called after each tool round, once that round's events are durable. */
  checkpoint: (cp: Checkpoint) => Promise<void>;
  /** Reports a finished model round to the kernel and returns its verdict. */
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
      for (const call of grant.resume.calls) {
        const outcome = await resolveParkedCall(ctx, call);
        if (signal.aborted) return { kind: "aborted", usage };
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
      const asked: { name: string; args: Record<string, unknown> }[] = [];
      for await (const chunk of ctx.model.round({ round, attempt: grant.attempt, messages, signal })) {
        if (signal.aborted) return { kind: "aborted", usage };
        if (chunk.type === "text") {
          text += chunk.delta;
          await sink.emit("text.delta", { round, delta: chunk.delta });
        } else asked.push({ name: chunk.name, args: chunk.args });
      }
      if (signal.aborted) return { kind: "aborted", usage };

      const promptChars = messages.reduce((n, m) => n + m.content.length, 0);
      const outChars = text.length + asked.reduce((n, c) => n + c.name.length + JSON.stringify(c.args).length, 0);
      usage = addUsage(usage, tokens(promptChars), tokens(outChars));
      messages.push({ role: "assistant", content: text });
      await sink.emit("message", { round, role: "assistant", content: text });
      await sink.emit("usage", usage);

      const mayPark = grant.plan.approval.policy !== "never" || grant.plan.external_tools.length > 0;
      const calls = asked.map((c, i) => ({ call_id: `call_${round}_${i + 1}`, tool: c.name, args: c.args }));
      for (const c of calls) {
        const external = grant.plan.external_tools.some((x) => x.name === c.tool);
        await sink.emit("tool.call", { round, ...c, ...(external ? { external: true } : {}) });
      }
      // The kernel's events (input_required, approval.requested) must follow ours.
      await sink.flush();
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
      for (const call of calls) {
        if (signal.aborted) return { kind: "aborted", usage };
        const outcome = await runTool(ctx.tools, grant.plan.tools, call.tool, call.args, signal);
        if (signal.aborted) return { kind: "aborted", usage };
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

/** A call of a resumed round: run it (no approval needed, or approved), or report its answer. */
async function resolveParkedCall(ctx: LoopContext, call: PendingCall): Promise<ToolOutcome> {
  const a = call.answer;
  if (call.kind === "run" || (a?.type === "approval" && a.decision === "approve"))
    return runTool(ctx.tools, ctx.grant.plan.tools, call.tool, call.args, ctx.signal);
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

function addUsage(u: Usage, input: number, output: number): Usage {
  return { input_tokens: u.input_tokens + input, output_tokens: u.output_tokens + output, total_tokens: u.total_tokens + input + output };
}
