// runner-pool configuration.
import { hostname, tmpdir } from "node:os";
import path from "node:path";
import { z } from "zod";
import { egressPolicy } from "./egress.ts";

const kindList = z
  .string()
  .default("")
  .transform((s) =>
    s
      .split(",")
      .map((k) => k.trim())
      .filter(Boolean),
  )
  .pipe(z.array(z.string().regex(/^[a-z0-9][a-z0-9_-]*$/, "each kind must be a slug")));

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
  RUNNER_PLUGINS: z
    .string()
    .default("")
    .transform((s) =>
      s
        .split(",")
        .map((k) => k.trim())
        .filter(Boolean),
    ),
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
  PROCESS_ENV_ALLOW: z
    .string()
    .default("")
    .transform((s) =>
      s
        .split(",")
        .map((k) => k.trim())
        .filter(Boolean),
    )
    .pipe(
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
  EGRESS_ALLOW: z
    .string()
    .default("public")
    .transform((s) =>
      s
        .split(",")
        .map((k) => k.trim())
        .filter(Boolean),
    )
    .superRefine((entries, ctx) => {
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
  // Version string reported in the node record.
  SY_VERSION: z.string().default("0.1.0"),
});
export type RunnerEnv = z.infer<typeof RunnerEnv>;
