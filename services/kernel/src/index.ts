// kernel: the only writer of task state. Consumes commands (SY_CMD), grants claims
// (sy.kernel.claim), checks every model round (sy.kernel.round: budgets, approvals, external
// tools), fences run reports, decides retries, parks and resumes, dispatches work and cancels.
import { ClaimRequest, QUEUE_GROUPS, RoundReport, subjects } from "@switchyard/contracts";
import {
  connectNats,
  connectRedis,
  countReconnects,
  createMetrics,
  ensureTopology,
  runService,
  serveJson,
  serveMetricsFromEnv,
  taskRetentionHours,
} from "@switchyard/runtime";
import { consumeCommands, ensureCommandConsumer } from "./commands.ts";
import { KernelEnv } from "./env.ts";
import { Kernel } from "./kernel.ts";
import { createKernelMetrics } from "./kernel-metrics.ts";
import { KeyedLock } from "./keyed-lock.ts";
import { Reaper } from "./reaper.ts";
import { TaskStore } from "./task-store.ts";
import { TenantIndex } from "./tenant-index.ts";

await runService("kernel", KernelEnv, async ({ env, log }) => {
  const nc = await connectNats(env.NATS_URL, env.KERNEL_ID, log);
  const topo = await ensureTopology(nc, env);
  await ensureCommandConsumer(topo.jsm);
  const redis = connectRedis(env.REDIS_URL, log);
  const metrics = createMetrics("kernel");
  countReconnects(metrics, { nc, redis });
  // The gauges read the reaper's index, created below.
  const index: { reaper?: Reaper } = {};
  const kernelMetrics = createKernelMetrics(metrics.registry, () => index.reaper?.activeTasks() ?? []);
  // A record NATS would refuse fails its task instead of being retried forever.
  const store = new TaskStore(topo.tasks, topo.js, { maxBytes: (nc.info?.max_payload ?? 1024 * 1024) - 4096 });
  const lock = new KeyedLock();
  const tenantIndex = new TenantIndex(redis, taskRetentionHours(env) * 3_600_000, log);
  // In the background: a fleet whose Redis restarted empty lists its tasks again once this ends.
  void tenantIndex
    .rebuildIfMissing(topo.tasks)
    .catch((err: unknown) => log.warn({ err: (err as Error).message }, "task index rebuild failed; retried at next start"));
  const kernel = new Kernel({
    tenantIndex,
    nc,
    js: topo.js,
    store,
    idempotency: topo.idempotency,
    log,
    spawnerTimeoutMs: env.SPAWNER_TIMEOUT_MS,
    commandRetryMs: env.COMMAND_RETRY_MS,
    metrics: kernelMetrics,
  });

  const claims = serveJson(nc, {
    subject: subjects.claim,
    queue: QUEUE_GROUPS.kernel,
    schema: ClaimRequest,
    log,
    handle: (req) => lock.run(req.task_id, () => kernel.claim(req)),
    onInvalid: () => undefined,
    onError: () => undefined,
    metrics,
  });
  const rounds = serveJson(nc, {
    subject: subjects.round,
    queue: QUEUE_GROUPS.kernel,
    schema: RoundReport,
    log,
    handle: (req) => lock.run(req.task_id, () => kernel.round(req)),
    onInvalid: () => undefined,
    // No reply: the runner asks again (its retry covers a kernel that is busy or restarting).
    onError: () => undefined,
    metrics,
  });
  const commands = await consumeCommands({ js: topo.js, kernel, lock, concurrency: env.KERNEL_CONCURRENCY, log, metrics });
  const reaper = new Reaper(
    { js: topo.js, store, redis, log },
    {
      leaseGraceMs: env.LEASE_GRACE_MS,
      intervalMs: env.REAPER_INTERVAL_MS,
      queueTimeoutMs: env.QUEUE_TIMEOUT_MS,
      retentionMs: taskRetentionHours(env) * 3_600_000,
    },
  );
  index.reaper = reaper;
  await reaper.start();
  const metricsServer = await serveMetricsFromEnv(metrics.registry, env.METRICS_PORT);

  return {
    readyInfo: { kernel_id: env.KERNEL_ID, ...(metricsServer ? { metrics_port: metricsServer.port } : {}) },
    stop: async () => {
      reaper.stop();
      claims.unsubscribe();
      rounds.unsubscribe();
      await commands.stop();
      log.info({ commands: commands.stats, reaper: reaper.stats, fenced_reports: kernel.fencedReports, cas_conflicts: store.conflicts }, "kernel stats");
      metricsServer?.server.close();
      await nc.drain();
      redis.disconnect();
    },
  };
});
