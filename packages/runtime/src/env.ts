// Config fails at boot: each service parses process.env with a zod schema, logs it with
// secrets removed, and exits non-zero with one clear message on a bad variable.
import { z } from "zod";

/** Variables every service reads. */
export const BaseEnv = z.object({
  // NATS server URL(s), comma-separated.
  NATS_URL: z.string().min(1).default("nats://127.0.0.1:4222"),
  // Redis URL (redis://host:port/db).
  REDIS_URL: z.string().min(1).default("redis://127.0.0.1:6379"),
  // pino level: fatal, error, warn, info, debug, trace.
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  // json (production) or pretty (a terminal).
  LOG_FORMAT: z.enum(["json", "pretty"]).default("json"),
  // Max age of task events in SY_EVENTS, in hours (limits retention).
  EVENTS_MAX_AGE_HOURS: z.coerce
    .number()
    .positive()
    .default(24 * 7),
  // How long a task record (KV sy_tasks) is kept after its last change, in hours. Default: the
  // events' max age (EVENTS_MAX_AGE_HOURS), so a task and its events expire together.
  TASK_RETENTION_HOURS: z.coerce.number().positive().optional(),
  // Max size of SY_EVENTS in MiB (-1: unlimited).
  EVENTS_MAX_MB: z.coerce.number().int().min(-1).default(-1),
  // Port of GET /metrics and /healthz for services without an HTTP API (kernel, spawner,
  // runner-pool). Unset: not served. 0: any free port (logged in the ready line).
  METRICS_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  // JetStream duplicate window for SY_CMD (submit idempotency within the window), seconds.
  CMD_DUPLICATE_WINDOW_S: z.coerce.number().int().positive().default(120),
});
export type BaseEnv = z.infer<typeof BaseEnv>;

const SECRET = /secret|password|token|api_?key|credential/i;

/** Parses env or exits with a message naming each bad variable. */
export function loadEnv<S extends z.ZodType>(service: string, schema: S, env: NodeJS.ProcessEnv = process.env): z.infer<S> {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join(".") || "(env)"}: ${i.message}`);
    process.stderr.write(`${service}: invalid configuration\n${lines.join("\n")}\n`);
    process.exit(2);
  }
  return parsed.data;
}

/** The config as it may be logged: secrets and credentials in URLs removed. */
export function redactConfig(config: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(config)) {
    if (SECRET.test(k)) out[k] = v === undefined || v === "" ? v : "[redacted]";
    else if (typeof v === "string") out[k] = redactUrlCredentials(v);
    else out[k] = v;
  }
  return out;
}

/** `nats://user:pass@h` → `nats://user:[redacted]@h`; a bare token or user (`nats://tok@h`) → `nats://[redacted]@h`. */
export function redactUrlCredentials(text: string): string {
  return text.replace(/\/\/([^:@/\s]*):([^@/\s]+)@/g, "//$1:[redacted]@").replace(/\/\/([^:@/\s]+)@/g, "//[redacted]@");
}

/** TASK_RETENTION_HOURS, or the events' max age when unset. */
export function taskRetentionHours(env: Pick<BaseEnv, "TASK_RETENTION_HOURS" | "EVENTS_MAX_AGE_HOURS">): number {
  return env.TASK_RETENTION_HOURS ?? env.EVENTS_MAX_AGE_HOURS;
}
