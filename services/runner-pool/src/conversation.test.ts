import type { ChatMessage } from "@switchyard/contracts";
import { describe, expect, it } from "vitest";
import { toModelMessages, toolNamesIn } from "./conversation.ts";
import { buildToolNameMap } from "./tool-names.ts";

const convo: ChatMessage[] = [
  { role: "system", content: "You are terse." },
  { role: "user", content: "charge 5 and echo" },
  {
    role: "assistant",
    content: "On it.",
    tool_calls: [
      { call_id: "call_1_1", tool: "payments.charge", args: { amount: 5 } },
      { call_id: "call_1_2", tool: "echo", args: { q: "x" } },
    ],
  },
  { role: "tool", content: JSON.stringify({ call_id: "call_1_1", tool: "payments.charge", result: { status: "charged" } }) },
  { role: "tool", content: JSON.stringify({ call_id: "call_1_2", tool: "echo", error: { code: "tool_error", message: "boom", retryable: false } }) },
  { role: "assistant", content: "Done." },
];

describe("conversation conversion", () => {
  it("turns the provider-neutral conversation into the SDK's messages", () => {
    const names = buildToolNameMap(toolNamesIn(convo));
    const { instructions, messages } = toModelMessages(convo, names);
    expect(instructions).toBe("You are terse.");
    expect(messages).toEqual([
      { role: "user", content: "charge 5 and echo" },
      {
        role: "assistant",
        content: [
          { type: "text", text: "On it." },
          { type: "tool-call", toolCallId: "call_1_1", toolName: "payments_charge", input: { amount: 5 } },
          { type: "tool-call", toolCallId: "call_1_2", toolName: "echo", input: { q: "x" } },
        ],
      },
      {
        role: "tool",
        content: [
          { type: "tool-result", toolCallId: "call_1_1", toolName: "payments_charge", output: { type: "json", value: { status: "charged" } } },
          {
            type: "tool-result",
            toolCallId: "call_1_2",
            toolName: "echo",
            output: { type: "error-json", value: { code: "tool_error", message: "boom", retryable: false } },
          },
        ],
      },
      { role: "assistant", content: [{ type: "text", text: "Done." }] },
    ]);
  });

  it("shows a tool message that answers no call of the conversation as user text", () => {
    const msgs: ChatMessage[] = [
      { role: "user", content: "hi" },
      { role: "tool", content: "42" },
    ];
    const { messages } = toModelMessages(msgs, buildToolNameMap([]));
    expect(messages[1]).toEqual({ role: "user", content: "Tool result: 42" });
  });
});
