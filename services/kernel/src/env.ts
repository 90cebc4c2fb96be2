// Kernel configuration.
import { z } from "zod";

export const KernelEnv = z.object({
  // Identifies this kernel replica in logs.
  KERNEL_ID: z.string().min(1).default(`kernel-${process.pid}`),
  // Commands from SY_CMD processed at once by this replica.
  KERNEL_CONCURRENCY: z.coerce.number().int().min(1).max(10_000).default(64),
  // How long to wait for the spawner to compile a run plan.
  SPAWNER_TIMEOUT_MS: z.coerce.number().int().min(100).default(5000),
  // Redelivery delay for a command that cannot be handled yet (spawner down, task not created yet).
  COMMAND_RETRY_MS: z.coerce.number().int().min(10).default(1000),
  // How long a running task's lease may be missing from Redis before its run is declared lost
  // (on top of the runner's LEASE_TTL_MS). It covers a Redis restart: runners re-assert their
  // leases within one HEARTBEAT_MS, so keep it above that. Recovery from a dead runner takes
  // about LEASE_TTL_MS + LEASE_GRACE_MS (BENCHMARKS.md, recovery).
  LEASE_GRACE_MS: z.coerce.number().int().min(0).default(1000),
  // How often the reaper checks leases, deadlines and queue timeouts.
  REAPER_INTERVAL_MS: z.coerce.number().int().min(20).default(250),
  // How long a queued task may wait while no live node serves its kind (0: forever).
  QUEUE_TIMEOUT_MS: z.coerce.number().int().min(0).default(3_600_000),
});
export type KernelEnv = z.infer<typeof KernelEnv>;
