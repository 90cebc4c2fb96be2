// One pino logger per service; children bind task_id, run_id, node_id.
import { type Logger, pino } from "pino";

export type { Logger };

export function createLogger(service: string, opts: { level: string; format: "json" | "pretty" }): Logger {
  return pino({
    name: service,
    level: opts.level,
    base: { service, pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    ...(opts.format === "pretty" ? { transport: { target: "pino-pretty", options: { colorize: true } } } : {}),
  });
}
