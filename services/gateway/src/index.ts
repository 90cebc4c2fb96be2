// gateway: the HTTP API (fastify), SSE streams, auth and request validation. It publishes
// commands and reads state; it never writes task state and never runs agents.
import { connectNats, connectRedis, countReconnects, createMetrics, ensureTopology, runService } from "@switchyard/runtime";
import { buildApp } from "./app.ts";
import { GatewayEnv } from "./env.ts";
import { AnswerWaiter, SubmitWaiter } from "./submit-waiter.ts";

await runService("gateway", GatewayEnv, async ({ env, log }) => {
  const nc = await connectNats(env.NATS_URL, "gateway", log);
  const topo = await ensureTopology(nc, env);
  const redis = connectRedis(env.REDIS_URL, log);
  const submitWaiter = new SubmitWaiter(nc, log);
  const answerWaiter = new AnswerWaiter(nc, log);
  // Served on the API port at GET /metrics (METRICS_PORT is for services without an HTTP API).
  const metrics = createMetrics("gateway");
  countReconnects(metrics, { nc, redis });
  const app = buildApp({
    nc,
    js: topo.js,
    jsm: topo.jsm,
    tasks: topo.tasks,
    agents: topo.agents,
    idempotency: topo.idempotency,
    runnerKinds: topo.runnerKinds,
    operators: topo.operators,
    redis,
    env,
    log,
    submitWaiter,
    answerWaiter,
    metrics,
  });
  const address = await app.listen({ port: env.PORT, host: env.HOST });
  const port = (app.server.address() as { port: number }).port;
  return {
    readyInfo: { url: `http://127.0.0.1:${port}`, address },
    stop: async () => {
      await app.close();
      submitWaiter.close();
      answerWaiter.close();
      await nc.drain();
      redis.disconnect();
    },
  };
});
