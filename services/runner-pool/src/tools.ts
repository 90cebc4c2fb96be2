// Built-in tools. A tool gets its args and the run's abort signal; what it returns is the
// tool result the model sees.
import { SwitchyardError, type WireError } from "@switchyard/contracts";
import { sleep } from "./abortable.ts";

const MAX_SLEEP_MS = 3_600_000;

export type Tool = (args: Record<string, unknown>, signal: AbortSignal) => Promise<unknown>;

/** What a model is told about a tool: its name, what it does, and its arguments' JSON Schema. */
export interface ToolSpec {
  name: string;
  description: string;
  parameters: Record<string, unknown>;
}

export const BUILTIN_TOOL_SPECS: Record<string, ToolSpec> = {
  echo: { name: "echo", description: "Returns its arguments unchanged.", parameters: { type: "object", additionalProperties: true } },
  sleep: {
    name: "sleep",
    description: "Waits the given number of milliseconds.",
    parameters: { type: "object", properties: { ms: { type: "number", minimum: 0, maximum: MAX_SLEEP_MS } }, required: ["ms"] },
  },
  "payments.charge": {
    name: "payments.charge",
    description: "Charges an amount (a simulation for demos: no money moves).",
    parameters: { type: "object", properties: { amount: { type: "number" }, currency: { type: "string" } }, required: ["amount"] },
  },
};

export const BUILTIN_TOOLS: Record<string, Tool> = {
  /** Returns its arguments. */
  echo: async (args) => args,
  /** Waits `ms` milliseconds (an abort ends it at once). */
  sleep: async (args, signal) => {
    const ms = args.ms;
    if (typeof ms !== "number" || !Number.isFinite(ms) || ms < 0 || ms > MAX_SLEEP_MS) {
      throw new SwitchyardError("tool_error", `sleep: 'ms' must be a number from 0 to ${MAX_SLEEP_MS}`, { retryable: false });
    }
    await sleep(ms, signal);
    return { slept_ms: ms };
  },
  /**
   * A simulated payment for demos of approval policies (agents/pay.md): checks its args and
   * answers as a payment provider would. No money moves anywhere.
   */
  "payments.charge": async (args) => {
    const amount = args.amount;
    if (typeof amount !== "number" || !Number.isFinite(amount) || amount <= 0) {
      throw new SwitchyardError("tool_error", "payments.charge: 'amount' must be a positive number", { retryable: false });
    }
    const currency = typeof args.currency === "string" ? args.currency : "EUR";
    return { status: "charged", amount, currency, simulated: true };
  },
};

/** What a tool call gives the model: its result, or the error it failed with. */
export type ToolOutcome = { result: unknown } | { error: WireError };

/**
 * Runs the tool `name` if the agent's plan allows it and `tools` has it (own keys only, so
 * `constructor` or `__proto__` are not tools). A failing tool is a result the model sees, not
 * a failed run; callers check `signal` afterwards to tell an abort from an error.
 */
export async function runTool(
  tools: Record<string, Tool>,
  allowed: readonly string[],
  name: string,
  args: Record<string, unknown>,
  signal: AbortSignal,
): Promise<ToolOutcome> {
  const tool = allowed.includes(name) && Object.hasOwn(tools, name) ? tools[name] : undefined;
  if (!tool) return { error: { code: "tool_error", message: `tool '${name}' is not available to this agent`, retryable: false } };
  try {
    return { result: await tool(args, signal) };
  } catch (err) {
    const e = err instanceof SwitchyardError ? err.toWire() : { code: "tool_error", message: (err as Error)?.message ?? String(err), retryable: false };
    return { error: e };
  }
}
