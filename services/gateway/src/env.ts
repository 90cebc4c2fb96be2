// Gateway configuration.
import { z } from "zod";

export const GatewayEnv = z.object({
  // HTTP port.
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  // Interface to listen on.
  HOST: z.string().default("0.0.0.0"),
  // Bearer tokens and their tenants: "token1:tenant-a,token2:tenant-b". Empty: no auth, every
  // request belongs to DEFAULT_TENANT.
  API_KEYS: z.string().default(""),
  // Tenant of unauthenticated requests when API_KEYS is empty.
  DEFAULT_TENANT: z
    .string()
    .regex(/^[a-z0-9][a-z0-9_-]*$/)
    .default("default"),
  // Largest request body accepted, in bytes.
  BODY_LIMIT_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .default(2 * 1024 * 1024),
  // Interval of SSE keep-alive comments.
  SSE_KEEPALIVE_MS: z.coerce.number().int().min(100).default(15_000),
  // Bytes of SSE frames a running task's shared tail keeps for followers who join late; one
  // who needs an older event reads with a consumer of its own.
  SSE_TAIL_BUFFER_BYTES: z.coerce
    .number()
    .int()
    .min(0)
    .default(1024 * 1024),
  // Bytes a follower's socket may hold unsent before it is detached from the shared tail and
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
