// runner-pool configuration.
import { hostname, tmpdir } from "node:os";
import path from "node:path";
import { z } from "zod";
import { egressPolicy } from "./egress.ts";

/** A comma-separated list: entries trimmed, empty ones dropped. */
const commaList = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((s) =>
      s
        .split(",")
        .map((k) => k.trim())
        .filter(Boolean),
    );

const kindList = commaList("").pipe(z.array(z.string().regex(/^[a-z0-9][a-z0-9_-]*$/, "each kind must be a slug")));

export const RunnerEnv = z.object({
  // This node's id (appears in GET /v1/runners and in task records). Default: host-pid.
  NODE_ID: z.string().min(1).max(128).default(`${hostname()}-${process.pid}`),
  // Runner kinds served besides `local`, comma-separated (e.g. "gpu,sandbox").
  RUNNER_KINDS: kindList,
  // Serve the general pool (`local`) too. Set to false for a node that serves only RUNNER_KINDS.
  RUNNER_SERVE_LOCAL: z
    .enum(["true", "false"])
    .default("true")
    .transform((v) => v === "true"),
  // Modules that add runner kinds: comma-separated paths (relative to the working directory) or
  // package names; each default-exports a runner kind (see docs/how-to-add-a-runner-kind.md).
  RUNNER_PLUGINS: commaList(""),
  // Directory under which this node keeps run workspaces (<root>/<node_id>/<kind>/<task_id>).
  RUNNER_WORKSPACE_ROOT: z.string().min(1).default(path.join(tmpdir(), "switchyard-runs")),
  // `process` kind: the folder of agent programs a task may name (config.program).
  PROCESS_AGENTS_DIR: z
    .string()
    .min(1)
    .default(path.resolve(import.meta.dirname, "../../../examples/process-agents")),
  // `process` kind: the environment variables a task may set in config.env, comma-separated names
  // or `*` globs (e.g. "MY_FLAG,AGENT_*"). Default empty: none. Names that change how programs
  // start or connect (NODE_OPTIONS, NODE_*, LD_*, DYLD_*, PATH, *_PROXY, …) are refused even if listed.
  PROCESS_ENV_ALLOW: commaList("").pipe(
    z.array(
      z
        .string()
        .max(128)
        .regex(/^[A-Z_*][A-Z0-9_*]*$/, "each entry must be an upper-case variable name or a glob of one with '*'"),
    ),
  ),
  // `process` kind: how long an agent process has after SIGTERM before SIGKILL.
  PROCESS_STOP_GRACE_MS: z.coerce.number().int().min(0).default(2000),
  // Where this node may connect on a task's behalf (the `a2a` kind's remote agent, plugins using
  // the node's guarded fetch): comma-separated `public` (any global unicast address), IPs, CIDRs,
  // host names and host globs (*.example.com). Default "public": loopback, private, link-local,
  // metadata and other special addresses are refused unless an entry allows them.
  EGRESS_ALLOW: commaList("public").superRefine((entries, ctx) => {
    try {
      egressPolicy(entries);
    } catch (err) {
      ctx.addIssue({ code: "custom", message: (err as Error).message });
    }
  }),
  // `a2a` kind: how long to wait for a remote agent to answer a request (the stream itself has no timeout).
  A2A_REQUEST_TIMEOUT_MS: z.coerce.number().int().min(100).default(10_000),
  // Operator agents: how long to wait for an operator that is not connected (or left mid-turn)
  // to come back before the attempt fails with operator_unavailable (retryable).
  OPERATOR_GRACE_MS: z.coerce.number().int().min(0).default(10_000),
  // Operator agents: how long one turn may take (a person at a console can be slow).
  OPERATOR_TURN_TIMEOUT_MS: z.coerce.number().int().min(100).default(600_000),
  // Runs this node holds at once.
  RUNNER_SLOTS: z.coerce.number().int().min(1).max(100_000).default(16),
  // Heartbeat period of the node record and the task leases in Redis.
  HEARTBEAT_MS: z.coerce.number().int().min(50).default(500),
  // TTL of the node record: a node silent this long leaves GET /v1/runners.
  NODE_TTL_MS: z.coerce.number().int().min(100).default(3000),
  // TTL of a task lease: the kernel treats a run whose lease lapsed as dead. Renewed every
  // min(HEARTBEAT_MS, LEASE_TTL_MS / 3), so three renewals may be missed before it lapses.
  LEASE_TTL_MS: z.coerce.number().int().min(100).default(1500),
  // How long to wait for the kernel to answer a claim or one round check.
  CLAIM_TIMEOUT_MS: z.coerce.number().int().min(50).default(5000),
  // On SIGTERM: how long in-flight runs may take to finish before they are handed back.
  DRAIN_TIMEOUT_MS: z.coerce.number().int().min(0).default(10_000),
  // How long a report to the kernel is retried through a NATS outage before the run is left to
  // the kernel's lease reaper; also how long a round check is asked again while no kernel answers.
  REPORT_RETRY_MS: z.coerce.number().int().min(0).default(30_000),
  // Max characters per text.delta event of the scripted model.
  TEXT_CHUNK_CHARS: z.coerce.number().int().min(1).default(16),
  // Event publishes in flight per run before the loop waits for acks.
  EVENT_WINDOW: z.coerce.number().int().min(1).default(128),
  // Model providers (README › Use a real model). Read from the environment by providers.ts, listed
  // here so they are checked and documented; keys are redacted from the config log line.
  // OpenAI: its key (unset: no `openai:` provider unless OPENAI_BASE_URL is set).
  OPENAI_API_KEY: z.string().optional(),
  // OpenAI: base URL of the API, e.g. http://127.0.0.1:8000/v1 (unset: the SDK's default, api.openai.com).
  OPENAI_BASE_URL: z.url({ protocol: /^https?$/ }).optional(),
  // Anthropic: its key (unset: no `anthropic:` provider unless ANTHROPIC_BASE_URL is set).
  ANTHROPIC_API_KEY: z.string().optional(),
  // Anthropic: base URL of the API, ending in /v1 (unset: the SDK's default, api.anthropic.com).
  ANTHROPIC_BASE_URL: z.url({ protocol: /^https?$/ }).optional(),
  // (PROVIDER_<NAME>_BASE_URL, required, and PROVIDER_<NAME>_API_KEY, optional, add an
  // OpenAI-compatible provider `<name>`; read by providers.ts. Default: none.)
  // MCP: path of a JSON file {"mcpServers": {...}} of the MCP servers this node offers (unset: none).
  MCP_SERVERS: z.string().min(1).optional(),
  // MCP: how long one tool call (or a tool listing) may take.
  MCP_TOOL_TIMEOUT_MS: z.coerce.number().int().min(100).default(60_000),
  // MCP: tool results longer than this many characters (as JSON) are cut, with a marker.
  MCP_RESULT_MAX_CHARS: z.coerce.number().int().min(100).default(65_536),
  // MCP: how long a starting node waits for its MCP servers' first connection before it claims work.
  MCP_START_TIMEOUT_MS: z.coerce.number().int().min(0).default(10_000),
  // Version string reported in the node record.
  SY_VERSION: z.string().default("0.1.0"),
});
export type RunnerEnv = z.infer<typeof RunnerEnv>;
