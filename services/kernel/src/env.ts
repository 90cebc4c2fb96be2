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
});
export type KernelEnv = z.infer<typeof KernelEnv>;
