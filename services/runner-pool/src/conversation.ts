// The provider-neutral conversation (ChatMessage[], what checkpoints keep) as the `ai` SDK's
// messages for one request. System messages become the instructions; an assistant message's
// tool calls and the tool messages that answer them become tool-call and tool-result parts
// (consecutive results in one message); a tool message that answers no call of this
// conversation is shown to the model as user text. Tool names are mapped for the provider.
import type { ChatMessage } from "@switchyard/contracts";
import type { ModelMessage } from "ai";
import type { ToolNameMap } from "./tool-names.ts";

type JSONValue = null | string | number | boolean | JSONValue[] | { [k: string]: JSONValue };

/** A tool message's content as the loop writes it: `{call_id, tool, result}` or `{call_id, tool, error}`. */
export function parseToolMessage(content: string): { call_id: string; tool: string; result?: unknown; error?: unknown } | null {
  try {
    const v = JSON.parse(content) as Record<string, unknown>;
    if (v && typeof v === "object" && typeof v.call_id === "string" && typeof v.tool === "string") return v as { call_id: string; tool: string };
  } catch {
    /* not ours */
  }
  return null;
}

/** Every tool name the conversation mentions (so the name map covers the history too). */
export function toolNamesIn(messages: readonly ChatMessage[]): string[] {
  const out: string[] = [];
  for (const m of messages) {
    for (const c of m.tool_calls ?? []) out.push(c.tool);
    if (m.role === "tool") {
      const t = parseToolMessage(m.content);
      if (t) out.push(t.tool);
    }
  }
  return out;
}

function json(value: unknown): JSONValue {
  if (value === undefined) return null;
  return JSON.parse(JSON.stringify(value)) as JSONValue;
}

export function toModelMessages(messages: readonly ChatMessage[], names: ToolNameMap): { instructions: string; messages: ModelMessage[] } {
  const system: string[] = [];
  const out: ModelMessage[] = [];
  const asked = new Map<string, string>(); // call_id → our tool name
  for (const m of messages) {
    if (m.role === "system") {
      if (m.content) system.push(m.content);
      continue;
    }
    if (m.role === "user") {
      out.push({ role: "user", content: m.content });
      continue;
    }
    if (m.role === "assistant") {
      const parts: Exclude<Extract<ModelMessage, { role: "assistant" }>["content"], string> = [];
      if (m.content) parts.push({ type: "text", text: m.content });
      for (const c of m.tool_calls ?? []) {
        asked.set(c.call_id, c.tool);
        parts.push({ type: "tool-call", toolCallId: c.call_id, toolName: names.toSafe(c.tool), input: c.args });
      }
      if (parts.length > 0) out.push({ role: "assistant", content: parts });
      continue;
    }
    // tool
    const t = parseToolMessage(m.content);
    if (!t || asked.get(t.call_id) !== t.tool) {
      out.push({ role: "user", content: `Tool result: ${m.content}` });
      continue;
    }
    asked.delete(t.call_id);
    const output =
      t.error !== undefined
        ? { type: "error-json" as const, value: json(t.error) }
        : typeof t.result === "string"
          ? { type: "text" as const, value: t.result }
          : { type: "json" as const, value: json(t.result) };
    const part = { type: "tool-result" as const, toolCallId: t.call_id, toolName: names.toSafe(t.tool), output };
    const last = out[out.length - 1];
    if (last?.role === "tool") last.content.push(part);
    else out.push({ role: "tool", content: [part] });
  }
  return { instructions: system.join("\n\n"), messages: out };
}
