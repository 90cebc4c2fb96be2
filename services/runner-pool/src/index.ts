// runner-pool: a node that claims tasks of the kinds it serves and runs their agent loops.
import { connectNats, connectRedis, countReconnects, createMetrics, ensureTopology, runService, serveMetricsFromEnv } from "@switchyard/runtime";
import { RunnerEnv } from "./env.ts";
import { builtinKinds } from "./kinds/builtin.ts";
import { modelLoopKind } from "./kinds/local.ts";
import { loadPlugins, resolveServedKinds } from "./kinds/registry.ts";
import { loadMcpServers, McpHub } from "./mcp.ts";
import { loadProviders, publishProviders } from "./providers.ts";
import { RunnerNodeService } from "./runner.ts";

await runService("runner-pool", RunnerEnv, async ({ env, log }) => {
  const nc = await connectNats(env.NATS_URL, `runner-${env.NODE_ID}`, log);
  const topo = await ensureTopology(nc, env);
  const redis = connectRedis(env.REDIS_URL, log);
  const metrics = createMetrics("runner-pool");
  countReconnects(metrics, { nc, redis });
  const served = [...new Set([...(env.RUNNER_SERVE_LOCAL ? ["local"] : []), ...env.RUNNER_KINDS])];
  // Providers and MCP servers are the operator's: from this node's environment only.
  const providers = loadProviders(process.env);
  const mcp = env.MCP_SERVERS
    ? new McpHub(loadMcpServers(env.MCP_SERVERS), {
        toolTimeoutMs: env.MCP_TOOL_TIMEOUT_MS,
        resultMaxChars: env.MCP_RESULT_MAX_CHARS,
        log,
        onConnected: (name) => {
          void mcp
            ?.publish(topo.runnerCaps, env.NODE_ID, name)
            .catch((err: unknown) => log.warn({ mcp: name, err: (err as Error).message }, "could not publish MCP tools"));
        },
      })
    : undefined;
  // A node claims work once its MCP servers are up (or MCP_START_TIMEOUT_MS passed): a run must
  // not miss tools only because their server is still starting. Late ones publish when they connect.
  await mcp?.ready(env.MCP_START_TIMEOUT_MS);
  await publishProviders(topo.runnerCaps, providers, env.NODE_ID);
  const loopDeps = {
    providers,
    ...(mcp ? { mcp } : {}),
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
  const node = new RunnerNodeService({
    nc,
    js: topo.js,
    jsm: topo.jsm,
    redis,
    env,
    log,
    metrics,
    runnerKinds: topo.runnerKinds,
    initializers,
    capabilities: { providers: [...providers.keys()].sort(), mcp_servers: mcp?.names ?? [] },
  });
  await node.start();
  const metricsServer = await serveMetricsFromEnv(metrics.registry, env.METRICS_PORT);
  return {
    readyInfo: {
      node_id: env.NODE_ID,
      kinds: node.kinds,
      slots: env.RUNNER_SLOTS,
      providers: [...providers.keys()],
      mcp_servers: mcp?.names ?? [],
      ...(metricsServer ? { metrics_port: metricsServer.port } : {}),
    },
    stop: async () => {
      await node.drain();
      await mcp?.close();
      metricsServer?.server.close();
      log.info({ stats: node.stats }, "runner stats");
      await nc.drain();
      redis.disconnect();
    },
  };
});
