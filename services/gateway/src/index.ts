// gateway: the HTTP API (fastify), SSE streams, auth and request validation. It publishes
// commands and reads state; it never writes task state and never runs agents.
import { connectNats, connectRedis, countReconnects, createMetrics, ensureTopology, Gauge, runService } from "@switchyard/runtime";
import { buildApp } from "./app.ts";
import { isLoopbackHost, KeyStore } from "./auth.ts";
import { GatewayEnv } from "./env.ts";
import { EventHub } from "./event-hub.ts";
import { Quotas } from "./quotas.ts";
import { AnswerWaiter, SubmitWaiter } from "./submit-waiter.ts";

await runService("gateway", GatewayEnv, async ({ env, log }) => {
  const nc = await connectNats(env.NATS_URL, "gateway", log);
  const topo = await ensureTopology(nc, env);
  const redis = connectRedis(env.REDIS_URL, log);
  const keys = new KeyStore(env);
  await keys.watch(topo.apiKeys, log);
  // Safe default (docs/SECURITY.md): an open gateway listens on loopback only.
  if (!keys.required && env.AUTH !== "none" && !isLoopbackHost(env.HOST)) {
    keys.close();
    await nc.drain();
    redis.disconnect();
    throw new Error(
      `refusing to listen on ${env.HOST} without API keys: create one (./switchyard keys create), set API_KEYS, or set AUTH=none to expose an unauthenticated gateway on purpose`,
    );
  }
  if (env.AUTH === "none") log.warn("AUTH=none: every request is tenant '" + env.DEFAULT_TENANT + "' with every scope");
  else if (!keys.required) log.warn("no API keys yet: open to loopback callers as tenant '" + env.DEFAULT_TENANT + "' until the first key is created");
  const quotas = new Quotas(redis, env, log);
  const submitWaiter = new SubmitWaiter(nc, log);
  const answerWaiter = new AnswerWaiter(nc, log);
  // Before the API listens: a task submitted here is then always followed from its ring.
  const eventHub = new EventHub(topo.js, topo.jsm, log, {
    taskBytes: env.SSE_TAIL_BUFFER_BYTES,
    totalBytes: env.SSE_RING_TOTAL_BYTES,
    lingerMs: env.SSE_RING_LINGER_MS,
    idleMs: env.SSE_RING_IDLE_MS,
  });
  await eventHub.start();
  // Served on the API port at GET /metrics (METRICS_PORT is for services without an HTTP API).
  const metrics = createMetrics("gateway");
  countReconnects(metrics, { nc, redis });
  // The live feed's memory, read when scraped (ARCHITECTURE.md §6: bounded by SSE_RING_TOTAL_BYTES).
  new Gauge({
    name: "sy_sse_ring_bytes",
    help: "Bytes of SSE frames held in the live feed's per-task rings",
    registers: [metrics.registry],
    collect() {
      this.set(eventHub.bytes);
    },
  });
  new Gauge({
    name: "sy_sse_feeds",
    help: "Tasks whose live feed this gateway holds (a ring, followers, or both)",
    registers: [metrics.registry],
    collect() {
      this.set(eventHub.feeds);
    },
  });
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
    keys,
    quotas,
    eventHub,
  });
  const address = await app.listen({ port: env.PORT, host: env.HOST });
  const port = (app.server.address() as { port: number }).port;
  return {
    readyInfo: { url: `http://127.0.0.1:${port}`, address },
    stop: async () => {
      await app.close();
      await eventHub.stop();
      keys.close();
      quotas.close();
      submitWaiter.close();
      answerWaiter.close();
      await nc.drain();
      redis.disconnect();
    },
  };
});
