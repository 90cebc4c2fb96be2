// runner-pool: a node that claims tasks of the kinds it serves and runs their agent loops.
import { connectNats, connectRedis, ensureTopology, runService } from "@switchyard/runtime";
import { RunnerEnv } from "./env.ts";
import { RunnerNodeService } from "./runner.ts";

await runService("runner-pool", RunnerEnv, async ({ env, log }) => {
  const nc = await connectNats(env.NATS_URL, `runner-${env.NODE_ID}`, log);
  const topo = await ensureTopology(nc, {
    eventsMaxAgeHours: env.EVENTS_MAX_AGE_HOURS,
    eventsMaxMb: env.EVENTS_MAX_MB,
    cmdDuplicateWindowS: env.CMD_DUPLICATE_WINDOW_S,
  });
  const redis = connectRedis(env.REDIS_URL, log);
  const node = new RunnerNodeService({ nc, js: topo.js, jsm: topo.jsm, redis, env, log });
  await node.start();
  return {
    readyInfo: { node_id: env.NODE_ID, kinds: node.kinds, slots: env.RUNNER_SLOTS },
    stop: async () => {
      await node.drain();
      log.info({ stats: node.stats }, "runner stats");
      await nc.drain();
      redis.disconnect();
    },
  };
});
