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
};
