// Gateway configuration.
import { z } from "zod";

export const GatewayEnv = z.object({
  // HTTP port.
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  // Interface to listen on. Default 127.0.0.1 (loopback only); on any other address the gateway
  // refuses to start without API keys unless AUTH=none.
  HOST: z.string().default("127.0.0.1"),
  // Development keys: "token1:tenant-a,token2:tenant-b:tasks:read,tasks:write" (token:tenant, then
  // optional scopes; all scopes when none). Default empty. Production keys: ./switchyard keys.
  API_KEYS: z.string().default(""),
  // auto (default): keys are required once any is known (API_KEYS or KV sy_api_keys); a gateway
  // without keys starts only on a loopback HOST. keys: always required. none: no auth at all,
  // every request is DEFAULT_TENANT with every scope (say so explicitly to expose it that way).
  AUTH: z.enum(["auto", "keys", "none"]).default("auto"),
  // Bearer token that may read GET /metrics besides keys with the admin scope. Default empty.
  METRICS_TOKEN: z.string().default(""),
  // Tenant of requests while no key is required (default "default").
  DEFAULT_TENANT: z
    .string()
    .regex(/^[a-z0-9][a-z0-9_-]*$/)
    .default("default"),
  // Per-tenant limits, shared by every gateway through Redis (0: no limit). A refusal is 429 with
  // Retry-After. Task submits per second per tenant (default 1000).
  RATE_SUBMITS_PER_S: z.coerce.number().int().min(0).default(1000),
  // Unfinished (queued, running, parked) tasks per tenant (default 50000).
  MAX_ACTIVE_TASKS_PER_TENANT: z.coerce.number().int().min(0).default(50_000),
  // Open SSE streams plus operator WebSockets per tenant (default 5000).
  MAX_STREAMS_PER_TENANT: z.coerce.number().int().min(0).default(5000),
  // Largest request body accepted, in bytes.
  BODY_LIMIT_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .default(2 * 1024 * 1024),
  // Interval of SSE keep-alive comments.
  SSE_KEEPALIVE_MS: z.coerce.number().int().min(100).default(15_000),
  // Bytes of SSE frames the gateway keeps per task (its ring, oldest dropped first) for
  // followers who join late or resume; one who needs an older event reads the stream first.
  SSE_TAIL_BUFFER_BYTES: z.coerce
    .number()
    .int()
    .min(0)
    .default(1024 * 1024),
  // Bytes of SSE frames all tasks' rings may hold together; over it the oldest rings are cleared
  // (their followers go on live; history is then read from the stream).
  SSE_RING_TOTAL_BYTES: z.coerce
    .number()
    .int()
    .min(0)
    .default(64 * 1024 * 1024),
  // How long a finished task's ring stays after its terminal event once nobody follows it, so a
  // client that connects just after the end is still served from memory.
  SSE_RING_LINGER_MS: z.coerce.number().int().min(0).default(10_000),
  // How long an unfinished task's ring stays with nobody following it (after its submit or its
  // last follower left); later followers read its history from the stream.
  SSE_RING_IDLE_MS: z.coerce.number().int().min(0).default(30_000),
  // Bytes a follower's socket may hold unsent before it is detached from the live feed and
  // continues on a consumer of its own that waits for its socket to drain.
  SSE_FOLLOWER_BUFFER_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .default(1024 * 1024),
  // How long a submit waits for the kernel to confirm the task exists before answering 202
  // anyway (the submit is durable in SY_CMD; the task appears once a kernel is up).
  SUBMIT_CONFIRM_TIMEOUT_MS: z.coerce.number().int().min(0).default(5000),
  // Timeout of request/reply calls to the spawner.
  SPAWNER_TIMEOUT_MS: z.coerce.number().int().min(100).default(5000),
  // The gateway's public base URL (e.g. https://agents.example.com), used in A2A agent cards.
  // Unset: taken from each request's Host header.
  PUBLIC_URL: z.url({ protocol: /^https?$/ }).optional(),
  // Directory of the dashboard's built files, served at /ui. Unset: packages/dashboard/dist.
  UI_DIR: z.string().min(1).optional(),
});
export type GatewayEnv = z.infer<typeof GatewayEnv>;
