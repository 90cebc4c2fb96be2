// The agent loop for one attempt (DESIGN §8): model round (streamed) → tool calls → next
// round, until a final message or max_rounds. It reports facts (events, checkpoints, the
// outcome); the kernel decides what they mean. It never retries.
import {
  type ChatMessage,
  type Checkpoint,
  type ClaimGranted,
  SwitchyardError,
  type TaskInput,
  type Usage,
  type WireError,
  ZERO_USAGE,
} from "@switchyard/contracts";
import type { RunEvents, RunOutcome } from "./kinds/kind.ts";
import type { Model } from "./model.ts";
import type { Tool } from "./tools.ts";

export type LoopOutcome = RunOutcome;

export interface LoopContext {
  grant: ClaimGranted;
  model: Model;
  tools: Record<string, Tool>;
  sink: RunEvents;
  signal: AbortSignal;
  /** Called after each tool round, once that round's events are durable. */
  checkpoint: (cp: Checkpoint) => Promise<void>;
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

export async function runAgentLoop(ctx: LoopContext): Promise<LoopOutcome> {
  const { grant, sink, signal } = ctx;
  const messages = grant.checkpoint ? [...grant.checkpoint.messages] : initialMessages(grant);
  let usage: Usage = grant.checkpoint?.usage ?? ZERO_USAGE;
  let completedRounds = grant.checkpoint?.round ?? 0;

  try {
    for (;;) {
      if (signal.aborted) return { kind: "aborted", usage };
      const round = completedRounds + 1;
      if (round > grant.plan.limits.max_rounds) {
        return fail(sink, usage, {
          code: "max_rounds_exceeded",
          message: `agent used all ${grant.plan.limits.max_rounds} rounds without a final answer`,
          retryable: false,
        });
      }
      await sink.emit("step.start", { round });

      let text = "";
      const calls: { name: string; args: Record<string, unknown> }[] = [];
      for await (const chunk of ctx.model.round({ round, attempt: grant.attempt, messages, signal })) {
        if (signal.aborted) return { kind: "aborted", usage };
        if (chunk.type === "text") {
          text += chunk.delta;
          await sink.emit("text.delta", { round, delta: chunk.delta });
        } else calls.push({ name: chunk.name, args: chunk.args });
      }
      if (signal.aborted) return { kind: "aborted", usage };

      const promptChars = messages.reduce((n, m) => n + m.content.length, 0);
      const outChars = text.length + calls.reduce((n, c) => n + c.name.length + JSON.stringify(c.args).length, 0);
      usage = addUsage(usage, tokens(promptChars), tokens(outChars));
      messages.push({ role: "assistant", content: text });
      await sink.emit("message", { round, role: "assistant", content: text });
      await sink.emit("usage", usage);

      if (calls.length === 0) {
        await sink.emit("step.finish", { round });
        return { kind: "finished", result: { text }, usage };
      }

      for (const [i, call] of calls.entries()) {
        const callId = `call_${round}_${i + 1}`;
        await sink.emit("tool.call", { round, call_id: callId, tool: call.name, args: call.args });
        const outcome = await runTool(ctx, call.name, call.args);
        if (signal.aborted) return { kind: "aborted", usage };
        await sink.emit("tool.result", { round, call_id: callId, tool: call.name, ...outcome });
        messages.push({ role: "tool", content: JSON.stringify({ call_id: callId, tool: call.name, ...outcome }) });
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

async function runTool(ctx: LoopContext, name: string, args: Record<string, unknown>): Promise<{ result: unknown } | { error: WireError }> {
  const tool = ctx.grant.plan.tools.includes(name) ? ctx.tools[name] : undefined;
  if (!tool) return { error: { code: "tool_error", message: `tool '${name}' is not available to this agent`, retryable: false } };
  try {
    return { result: await tool(args, ctx.signal) };
  } catch (err) {
    if (ctx.signal.aborted) throw err;
    const e = err instanceof SwitchyardError ? err.toWire() : { code: "tool_error", message: (err as Error)?.message ?? String(err), retryable: false };
    return { error: e };
  }
}

async function fail(sink: RunEvents, usage: Usage, error: WireError): Promise<LoopOutcome> {
  await sink.emit("error", error).catch(() => undefined);
  return { kind: "failed", error, usage };
}

function addUsage(u: Usage, input: number, output: number): Usage {
  return { input_tokens: u.input_tokens + input, output_tokens: u.output_tokens + output, total_tokens: u.total_tokens + input + output };
}
