// How long a starting kernel's reaper takes to read its view of unfinished tasks from KV
// sy_tasks (headers only, the last write of every retained task), with N finished records
// retained and a few unfinished ones. Run: node services/kernel/scripts/reaper-catchup.ts [N …]
// (default 20000 50000). Each N gets a fresh nats-server (file storage).
import { startNats } from "@switchyard/devkit";
import { connectNats, createLogger, ensureTopology, newTaskId } from "@switchyard/runtime";
import { Reaper } from "../src/reaper.ts";
import { TaskStore } from "../src/task-store.ts";
import { taskRecord } from "../src/test-fixtures.ts";

const log = createLogger("reaper-catchup", { level: "silent", format: "json" });
const sizes = process.argv.slice(2).map(Number).filter(Boolean);

for (const n of sizes.length > 0 ? sizes : [20_000, 50_000]) {
  const nats = await startNats();
  const nc = await connectNats(nats.url, "reaper-catchup", log);
  try {
    const topo = await ensureTopology(nc, { EVENTS_MAX_AGE_HOURS: 1, EVENTS_MAX_MB: 16, CMD_DUPLICATE_WINDOW_S: 60 });
    const store = new TaskStore(topo.tasks, topo.js);
    const unfinished = Math.ceil(n / 100);
    const t0 = Date.now();
    // A finished no-op task's record is about 1 KB; a result of 1 KB more.
    for (let i = 0; i < n; i += 500) {
      await Promise.all(
        Array.from({ length: Math.min(500, n - i) }, (_, j) => {
          const k = i + j;
          const status = k < unfinished ? "running" : "completed";
          return store.create(taskRecord(status, { id: newTaskId(), run_id: "r", result: status === "completed" ? { text: "x".repeat(1000) } : null }));
        }),
      );
    }
    const writeMs = Date.now() - t0;
    const info = await topo.jsm.streams.info("KV_sy_tasks");
    const reaper = new Reaper(
      { js: topo.js, store, redis: null as never, log },
      { leaseGraceMs: 1e9, intervalMs: 1e9, queueTimeoutMs: 0, retentionMs: 3_600_000 },
    );
    const s0 = performance.now();
    const c0 = process.cpuUsage();
    await reaper.start();
    const { records } = await reaper.caughtUp;
    const ms = performance.now() - s0;
    const cpu = process.cpuUsage(c0);
    reaper.stop();
    console.log(
      `${n} records (${(info.state.bytes / 1024 / 1024).toFixed(1)} MB stored, written in ${writeMs} ms): reaper caught up in ${ms.toFixed(0)} ms (kernel CPU ${((cpu.user + cpu.system) / 1000).toFixed(0)} ms), ` +
        `${records} records read, ${reaper.tracked} unfinished tracked (expected ${unfinished})`,
    );
  } finally {
    await nc.close();
    await nats.stop();
  }
}
