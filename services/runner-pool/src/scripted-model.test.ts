import { type ScriptStep, SwitchyardError } from "@switchyard/contracts";
import { describe, expect, it } from "vitest";
import type { ModelChunk } from "./model.ts";
import { chunkText, ScriptedModel, splitRounds, substitute } from "./scripted-model.ts";

async function collect(model: ScriptedModel, round: number, attempt = 1, signal = new AbortController().signal): Promise<ModelChunk[]> {
  const out: ModelChunk[] = [];
  for await (const c of model.round({ round, attempt, messages: [], signal })) out.push(c);
  return out;
}

describe("splitRounds", () => {
  it("ends a round at a step with a tool or with text", () => {
    const a: ScriptStep = { text: "thinking", tool: { name: "echo", args: {} } };
    const b: ScriptStep = { tool: { name: "sleep", args: { ms: 1 } } };
    const c: ScriptStep = { text: "done" };
    expect(splitRounds([a, b, c])).toEqual([[a], [b], [c]]);
  });

  it("joins sleep- and fail-only steps to the round that follows", () => {
    const sleep: ScriptStep = { sleep_ms: 5 };
    const fail: ScriptStep = { fail: { message: "x", retryable: true }, on_attempts: [1] };
    const tool: ScriptStep = { tool: { name: "echo", args: {} } };
    const text: ScriptStep = { text: "end" };
    expect(splitRounds([sleep, fail, tool, sleep, text])).toEqual([
      [sleep, fail, tool],
      [sleep, text],
    ]);
  });

  it("counts empty text as a final step", () => {
    expect(splitRounds([{ text: "" }, { text: "b" }])).toEqual([[{ text: "" }], [{ text: "b" }]]);
  });

  it("keeps trailing steps without text or tool as a last round", () => {
    expect(splitRounds([{ text: "a" }, { sleep_ms: 1 }])).toEqual([[{ text: "a" }], [{ sleep_ms: 1 }]]);
    expect(splitRounds([])).toEqual([]);
  });
});

describe("chunkText", () => {
  const texts = ["Hello! Let me look that up.", "a".repeat(37), "one two three four five six seven", "  leading and trailing  ", "x y", ""];

  it.each([1, 2, 5, 8, 16, 100])("with max %i never exceeds max and joins back to the original", (max) => {
    for (const t of texts) {
      const parts = chunkText(t, max);
      expect(parts.join(""), JSON.stringify(t)).toBe(t);
      for (const p of parts) {
        expect(p.length).toBeGreaterThan(0);
        expect(p.length).toBeLessThanOrEqual(max);
      }
    }
  });

  it("cuts after spaces when it can", () => {
    expect(chunkText("one two three four", 8)).toEqual(["one two ", "three ", "four"]);
    expect(chunkText("Hello! Let me look that up.", 16)).toEqual(["Hello! Let me ", "look that up."]);
  });

  it("cuts mid-word only when a window has no space", () => {
    expect(chunkText("abcdefghij", 4)).toEqual(["abcd", "efgh", "ij"]);
    expect(chunkText("abcdefgh ij", 4)).toEqual(["abcd", "efgh", " ij"]);
  });

  it("returns short text whole and empty text as no chunks", () => {
    expect(chunkText("short", 16)).toEqual(["short"]);
    expect(chunkText("exactly16chars!!", 16)).toEqual(["exactly16chars!!"]);
    expect(chunkText("", 16)).toEqual([]);
  });
});

describe("substitute", () => {
  it("replaces every {{input}} in a string", () => {
    expect(substitute("you said {{input}}; again: {{input}}", "hi")).toBe("you said hi; again: hi");
    expect(substitute("no placeholder", "hi")).toBe("no placeholder");
  });

  it("replaces deeply in objects and arrays and leaves other values alone", () => {
    const args = { q: "{{input}}", n: 3, ok: true, none: null, list: ["a {{input}}", 7, { deep: "{{input}}!" }], nested: { x: "{{input}}" } };
    expect(substitute(args, "cats")).toEqual({ q: "cats", n: 3, ok: true, none: null, list: ["a cats", 7, { deep: "cats!" }], nested: { x: "cats" } });
  });

  it("does not mutate the script it reads", () => {
    const args = { q: "{{input}}", list: ["{{input}}"] };
    substitute(args, "x");
    expect(args).toEqual({ q: "{{input}}", list: ["{{input}}"] });
  });

  it("does not expand the input itself", () => {
    expect(substitute("<{{input}}>", "{{input}}")).toBe("<{{input}}>");
  });

  // Known bug: String.prototype.replaceAll interprets `$$`, `$&`, `` $` `` and `$'` in the
  // replacement, so an input containing them is mangled. Remove `.fails` once fixed.
  it("inserts inputs containing `$` patterns literally", () => {
    expect(substitute("you said {{input}}", "I paid $$5 ($&)")).toBe("you said I paid $$5 ($&)");
  });
});

describe("ScriptedModel", () => {
  const script: ScriptStep[] = [
    { text: "Hello! Let me look that up.", tool: { name: "echo", args: { q: "{{input}}" } } },
    { tool: { name: "sleep", args: { ms: 1 } } },
    { text: "Done: you said {{input}}." },
  ];

  it("streams round N's text in chunks, then its tool call with substituted args", async () => {
    const m = new ScriptedModel(script, "cats", 16);
    expect(await collect(m, 1)).toEqual([
      { type: "text", delta: "Hello! Let me " },
      { type: "text", delta: "look that up." },
      { type: "tool_call", name: "echo", args: { q: "cats" } },
    ]);
    expect(await collect(m, 2)).toEqual([{ type: "tool_call", name: "sleep", args: { ms: 1 } }]);
    expect(await collect(m, 3)).toEqual([
      { type: "text", delta: "Done: you said " },
      { type: "text", delta: "cats." },
    ]);
  });

  it("yields nothing for a round past the end of the script", async () => {
    expect(await collect(new ScriptedModel(script, "x", 16), 4)).toEqual([]);
  });

  it("fails with a retryable model_error only on the attempts listed", async () => {
    const m = new ScriptedModel([{ fail: { message: "flaky upstream", retryable: true }, on_attempts: [1, 3] }, { text: "ok" }], "", 16);
    for (const attempt of [1, 3]) {
      const err = await collect(m, 1, attempt).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SwitchyardError);
      expect((err as SwitchyardError).toWire()).toEqual({ code: "model_error", message: "flaky upstream", retryable: true });
    }
    expect(await collect(m, 1, 2)).toEqual([{ type: "text", delta: "ok" }]);
    expect(await collect(m, 1, 4)).toEqual([{ type: "text", delta: "ok" }]);
  });

  it("fails on every attempt when on_attempts is absent, with the retryable flag as scripted", async () => {
    const m = new ScriptedModel([{ fail: { message: "bad request", retryable: false } }, { text: "never" }], "", 16);
    for (const attempt of [1, 2, 7]) {
      const err = await collect(m, 1, attempt).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SwitchyardError);
      expect((err as SwitchyardError).code).toBe("model_error");
      expect((err as SwitchyardError).retryable).toBe(false);
    }
  });

  it("fails before yielding the text of a round whose fail step comes first", async () => {
    const m = new ScriptedModel([{ sleep_ms: 1 }, { fail: { message: "late", retryable: false } }, { text: "never" }], "", 16);
    const seen: ModelChunk[] = [];
    const err = await (async () => {
      for await (const c of m.round({ round: 1, attempt: 1, messages: [], signal: new AbortController().signal })) seen.push(c);
    })().catch((e: unknown) => e);
    expect((err as SwitchyardError).message).toBe("late");
    expect(seen).toEqual([]);
  });

  // The sleep is an hour: only the abort can end this test inside its timeout.
  it("stops promptly when aborted during sleep_ms", { timeout: 2000 }, async () => {
    const m = new ScriptedModel([{ sleep_ms: 3_600_000, text: "too late" }], "", 16);
    const ac = new AbortController();
    const reason = new Error("canceled by test");
    setTimeout(() => ac.abort(reason), 10);
    await expect(collect(m, 1, 1, ac.signal)).rejects.toBe(reason);
  });

  it("yields nothing when the signal is already aborted", async () => {
    const ac = new AbortController();
    ac.abort();
    expect(await collect(new ScriptedModel(script, "x", 16), 1, 1, ac.signal)).toEqual([]);
  });
});

describe("several tool calls in one round", () => {
  it("yields `tool` then each of `tools`, and the step ends the round", async () => {
    const model = new ScriptedModel(
      [{ text: "two", tool: { name: "a", args: { x: 1 } }, tools: [{ name: "b", args: { q: "{{input}}" } }] }, { text: "done" }],
      "in",
      100,
    );
    const chunks = [];
    for await (const c of model.round({ round: 1, attempt: 1, messages: [], signal: new AbortController().signal })) chunks.push(c);
    expect(chunks).toEqual([
      { type: "text", delta: "two" },
      { type: "tool_call", name: "a", args: { x: 1 } },
      { type: "tool_call", name: "b", args: { q: "in" } },
    ]);
  });
});
