import { describe, expect, it } from "vitest";
import { parseAgentMarkdown } from "./agent-md.ts";

describe("parseAgentMarkdown", () => {
  it("reads the front matter as fields and the body as instructions", () => {
    const md = ["---", "name: helper", "model: gpt-x", "tools: [echo, sleep]", "limits:", "  max_rounds: 4", "---", "", "Be helpful.", "Be brief.", ""].join(
      "\n",
    );
    expect(parseAgentMarkdown(md, "file-name")).toEqual({
      name: "helper",
      model: "gpt-x",
      tools: ["echo", "sleep"],
      limits: { max_rounds: 4 },
      instructions: "Be helpful.\nBe brief.",
    });
  });

  it("falls back to the file name when the front matter has no name", () => {
    expect(parseAgentMarkdown("---\nmodel: m\n---\nHi", "from-file")).toEqual({ name: "from-file", model: "m", instructions: "Hi" });
  });

  it("leaves instructions out when the body is empty, so the front matter's own stay", () => {
    expect(parseAgentMarkdown("---\nmodel: m\ninstructions: from yaml\n---\n  \n", "a")).toEqual({ name: "a", model: "m", instructions: "from yaml" });
    expect(parseAgentMarkdown("---\nmodel: m\n---", "a")).toEqual({ name: "a", model: "m" });
  });

  it("lets the body win over instructions in the front matter", () => {
    expect(parseAgentMarkdown("---\ninstructions: yaml\n---\nbody", "a").instructions).toBe("body");
  });

  it("accepts CRLF line endings", () => {
    expect(parseAgentMarkdown("---\r\nmodel: m\r\n---\r\nBody\r\n", "a")).toEqual({ name: "a", model: "m", instructions: "Body" });
  });

  it("keeps a later '---' line in the body", () => {
    expect(parseAgentMarkdown("---\nmodel: m\n---\nabove\n---\nbelow", "a").instructions).toBe("above\n---\nbelow");
  });

  it.each([
    ["no front matter", "Just instructions."],
    ["front matter not at the start", "\n---\nmodel: m\n---\nbody"],
    ["an unclosed front matter", "---\nmodel: m\nbody"],
    ["an empty file", ""],
  ])("throws on %s", (_what, md) => {
    expect(() => parseAgentMarkdown(md, "a")).toThrow("missing YAML front matter");
  });

  it.each([
    ["a list", "---\n- a\n- b\n---\nbody"],
    ["a scalar", "---\njust text\n---\nbody"],
    ["null", "---\n~\n---\nbody"],
  ])("throws when the front matter is %s", (_what, md) => {
    expect(() => parseAgentMarkdown(md, "a")).toThrow("front matter must be a YAML mapping");
  });

  it("throws on invalid YAML", () => {
    expect(() => parseAgentMarkdown("---\nmodel: [unclosed\n---\nbody", "a")).toThrow();
  });
});
