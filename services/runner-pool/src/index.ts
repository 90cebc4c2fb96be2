// runner-pool: a node that claims tasks of the kinds it serves and runs their agent loops.
import { connectNats, connectRedis, countReconnects, createMetrics, ensureTopology, runService, serveMetricsFromEnv } from "@switchyard/runtime";
import { RunnerEnv } from "./env.ts";
import { builtinKinds } from "./kinds/builtin.ts";
import { modelLoopKind } from "./kinds/local.ts";
import { loadPlugins, resolveServedKinds } from "./kinds/registry.ts";
import { RunnerNodeService } from "./runner.ts";

await runService("runner-pool", RunnerEnv, async ({ env, log }) => {
  const nc = await connectNats(env.NATS_URL, `runner-${env.NODE_ID}`, log);
  const topo = await ensureTopology(nc, env);
  const redis = connectRedis(env.REDIS_URL, log);
  const metrics = createMetrics("runner-pool");
  countReconnects(metrics, { nc, redis });
  const served = [...new Set([...(env.RUNNER_SERVE_LOCAL ? ["local"] : []), ...env.RUNNER_KINDS])];
  const loopDeps = {
    operators: {
      nc,
      operators: topo.operators,
      graceMs: env.OPERATOR_GRACE_MS,
      turnTimeoutMs: env.OPERATOR_TURN_TIMEOUT_MS,
      textChunkChars: env.TEXT_CHUNK_CHARS,
      log,
    },
  };
  const initializers = resolveServedKinds(served, [...builtinKinds(env, loopDeps), ...(await loadPlugins(env.RUNNER_PLUGINS))], (kind, description) =>
    modelLoopKind(kind, description, loopDeps),
  );
  const node = new RunnerNodeService({ nc, js: topo.js, jsm: topo.jsm, redis, env, log, metrics, runnerKinds: topo.runnerKinds, initializers });
  await node.start();
  const metricsServer = await serveMetricsFromEnv(metrics.registry, env.METRICS_PORT);
  return {
    readyInfo: { node_id: env.NODE_ID, kinds: node.kinds, slots: env.RUNNER_SLOTS, ...(metricsServer ? { metrics_port: metricsServer.port } : {}) },
    stop: async () => {
      await node.drain();
      metricsServer?.server.close();
      log.info({ stats: node.stats }, "runner stats");
      await nc.drain();
      redis.disconnect();
    },
  };
});
