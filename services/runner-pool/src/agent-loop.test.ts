import { describe, expect, it } from "vitest";
import { inputText } from "./agent-loop.ts";

describe("inputText", () => {
  it("returns a string input as is", () => {
    expect(inputText("hello")).toBe("hello");
  });

  it("returns the last user message of a conversation", () => {
    expect(
      inputText([
        { role: "system", content: "be nice" },
        { role: "user", content: "first" },
        { role: "assistant", content: "ok" },
        { role: "user", content: "second" },
        { role: "assistant", content: "reply" },
      ]),
    ).toBe("second");
  });

  it("falls back to the last message when no message is from the user", () => {
    expect(
      inputText([
        { role: "system", content: "sys" },
        { role: "assistant", content: "last" },
      ]),
    ).toBe("last");
  });
});
