// Built-in tools. A tool gets its args and the run's abort signal; what it returns is the
// tool result the model sees.
import { SwitchyardError } from "@switchyard/contracts";
import { sleep } from "./abortable.ts";

export type Tool = (args: Record<string, unknown>, signal: AbortSignal) => Promise<unknown>;

const MAX_SLEEP_MS = 3_600_000;

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
