// The built-in `scripted` model (ARCHITECTURE.md §8): deterministic rounds from the agent definition.
// A round runs script steps in order until a step with a `tool` or `tools` (a tool round) or a
// step with `text` and no tool (the final answer). `sleep_ms` delays, `fail` fails the round on the
// attempts in `on_attempts` (all attempts when absent); `{{input}}` is the task input.
import { type ScriptStep, SwitchyardError } from "@switchyard/contracts";
import { sleep } from "./abortable.ts";
import type { Model, ModelChunk, RoundInput } from "./model.ts";

export class ScriptedModel implements Model {
  readonly #rounds: ScriptStep[][];
  readonly #input: string;
  readonly #chunkChars: number;

  constructor(script: readonly ScriptStep[], input: string, chunkChars: number) {
    this.#rounds = splitRounds(script);
    this.#input = input;
    this.#chunkChars = chunkChars;
  }

  async *round({ round, attempt, signal }: RoundInput): AsyncIterable<ModelChunk> {
    const steps = this.#rounds[round - 1] ?? [];
    for (const step of steps) {
      if (signal.aborted) return;
      if (step.fail && (!step.on_attempts || step.on_attempts.includes(attempt))) {
        throw new SwitchyardError("model_error", step.fail.message, { retryable: step.fail.retryable });
      }
      if (step.sleep_ms) await sleep(step.sleep_ms, signal);
      if (step.text) for (const delta of chunkText(substitute(step.text, this.#input), this.#chunkChars)) yield { type: "text", delta };
      if (step.tool) yield { type: "tool_call", name: step.tool.name, args: substitute(step.tool.args, this.#input) };
      for (const call of step.tools ?? []) yield { type: "tool_call", name: call.name, args: substitute(call.args, this.#input) };
    }
  }
}

/** Groups steps into rounds: a round ends after a step with a tool or with text. */
export function splitRounds(script: readonly ScriptStep[]): ScriptStep[][] {
  const rounds: ScriptStep[][] = [];
  let current: ScriptStep[] = [];
  for (const step of script) {
    current.push(step);
    if (step.tool || step.tools || step.text !== undefined) {
      rounds.push(current);
      current = [];
    }
  }
  if (current.length) rounds.push(current);
  return rounds;
}

/** Splits text into deltas of at most `max` characters, cutting after whitespace when it can. */
export function chunkText(text: string, max: number): string[] {
  const out: string[] = [];
  let rest = text;
  while (rest.length > max) {
    const window = rest.slice(0, max);
    const cut = window.lastIndexOf(" ");
    const at = cut > 0 ? cut + 1 : max;
    out.push(rest.slice(0, at));
    rest = rest.slice(at);
  }
  if (rest) out.push(rest);
  return out;
}

/** Replaces `{{input}}` in strings, deeply. */
export function substitute<T>(value: T, input: string): T {
  // A function replacement: `$` patterns in the input stay literal.
  if (typeof value === "string") return value.replaceAll("{{input}}", () => input) as T;
  if (Array.isArray(value)) return value.map((v) => substitute(v, input)) as T;
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = substitute(v, input);
    return out as T;
  }
  return value;
}
