// A runner kind in one file: the worked example of docs/how-to-add-a-runner-kind.md (and of
// test/e2e/runner-kinds.test.ts). It "runs" a task by streaming its input back in capitals.
// Start a node that serves it:
//   RUNNER_KINDS=uppercase RUNNER_SERVE_LOCAL=false RUNNER_PLUGINS=examples/runner-kinds/uppercase.ts \
//     node services/runner-pool/src/index.ts
import { defineRunnerKind } from "@switchyard/runner-pool/kinds";
import { z } from "zod";

export default defineRunnerKind({
  kind: "uppercase",
  description: "Streams the task input back in capitals (the runner-kind worked example).",
  // The gateway checks `executor.runner.config` against this schema at submit (400 naming the field).
  configSchema: z
    .object({
      repeat: z.number().int().min(1).max(10).default(1),
      // Pause between chunks, so a demo (or a test) can cancel or crash a run midway.
      chunk_delay_ms: z.number().int().min(0).max(10_000).default(0),
    })
    .strict(),
  async run(ctx) {
    const text = Array.from({ length: ctx.config.repeat }, () => ctx.inputText.toUpperCase()).join(" ");
    const usage = { input_tokens: 0, output_tokens: 0, total_tokens: 0 };
    await ctx.events.emit("step.start", { round: 1 });
    ctx.setState({ phase: "streaming", chars: text.length });
    for (let i = 0; i < text.length; i += ctx.textChunkChars) {
      if (ctx.config.chunk_delay_ms > 0) await pause(ctx.config.chunk_delay_ms, ctx.signal);
      if (ctx.signal.aborted) return { kind: "aborted", usage };
      await ctx.events.emit("text.delta", { round: 1, delta: text.slice(i, i + ctx.textChunkChars) });
    }
    await ctx.events.emit("message", { round: 1, role: "assistant", content: text });
    await ctx.events.emit("step.finish", { round: 1 });
    ctx.setState({ phase: "done", chars: text.length });
    return { kind: "finished", result: { text }, usage };
  },
});

/** Waits `ms`, or less when the run is stopped. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    const stop = () => {
      clearTimeout(t);
      resolve();
    };
    signal.addEventListener("abort", stop, { once: true });
  });
}
