// The kernel's Prometheus metrics. Counters are bumped where decisions are made; the gauges of
// tasks by status and kind (queue depth, in-flight runs, the oldest waiting task) are read from
// the reaper's in-memory index of unfinished tasks when scraped, so they cost nothing between
// scrapes and make no NATS call. No label carries a task id.
import type { ActiveTask } from "@switchyard/contracts";
import { Counter, Gauge, Histogram, type Registry } from "@switchyard/runtime";

export interface KernelMetrics {
  /** Status changes published, by status and agent (a repeat after a redelivery counts again). */
  statusChanges: Counter<"status" | "agent">;
  /** From the task turning `queued` to a granted claim, by runner kind. */
  queueWait: Histogram<"kind">;
  /** From the last attempt's start to the terminal status, by terminal status. */
  runDuration: Histogram<"status">;
  /** Model rounds checked, by verdict (proceed, park, stop). */
  rounds: Counter<"verdict">;
  claimsRefused: Counter<"reason">;
  /** Run reports dropped because their run is not the task's current one. */
  fencedReports: Counter<"report">;
  /** Commands from SY_CMD delivered more than once (a kernel died, or it asked for a retry). */
  redeliveries: Counter<"command">;
  /** Runs declared lost because their lease lapsed. */
  leasesLost: Counter;
  /** Submits planned from the plan cache (`hit`) or by asking the spawner (`miss`). */
  planCache: Counter<"result">;
}

const DURATION_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600];

export function createKernelMetrics(registry: Registry, activeTasks: () => Iterable<ActiveTask>): KernelMetrics {
  const registers = [registry];
  new Gauge({
    name: "sy_tasks",
    help: "Unfinished tasks by status (queued, running, input_required) and runner kind",
    labelNames: ["status", "kind"],
    registers,
    collect() {
      this.reset();
      for (const t of activeTasks()) this.inc({ status: t.status, kind: t.runner_kind });
    },
  });
  new Gauge({
    name: "sy_queue_oldest_seconds",
    help: "Age of the oldest queued task, by runner kind",
    labelNames: ["kind"],
    registers,
    collect() {
      this.reset();
      const now = Date.now();
      const oldest = new Map<string, number>();
      for (const t of activeTasks()) {
        if (t.status !== "queued") continue;
        const since = Date.parse(t.since);
        if (since < (oldest.get(t.runner_kind) ?? Number.POSITIVE_INFINITY)) oldest.set(t.runner_kind, since);
      }
      for (const [kind, since] of oldest) this.set({ kind }, Math.max(0, (now - since) / 1000));
    },
  });
  return {
    statusChanges: new Counter({ name: "sy_task_status_total", help: "Task status changes, by status and agent", labelNames: ["status", "agent"], registers }),
    queueWait: new Histogram({
      name: "sy_task_queue_wait_seconds",
      help: "Time from queued to a granted claim, by runner kind",
      labelNames: ["kind"],
      buckets: DURATION_BUCKETS,
      registers,
    }),
    runDuration: new Histogram({
      name: "sy_task_run_seconds",
      help: "Time from the last attempt's start to the terminal status, by status",
      labelNames: ["status"],
      buckets: DURATION_BUCKETS,
      registers,
    }),
    rounds: new Counter({ name: "sy_rounds_total", help: "Model rounds checked by the kernel, by verdict", labelNames: ["verdict"], registers }),
    planCache: new Counter({
      name: "sy_plan_cache_total",
      help: "Submits planned from the kernel's plan cache (hit) or compiled by the spawner (miss)",
      labelNames: ["result"],
      registers,
    }),
    claimsRefused: new Counter({ name: "sy_claims_refused_total", help: "Claims refused, by reason", labelNames: ["reason"], registers }),
    fencedReports: new Counter({
      name: "sy_fenced_reports_total",
      help: "Run reports fenced (not the current run), by report",
      labelNames: ["report"],
      registers,
    }),
    redeliveries: new Counter({
      name: "sy_redeliveries_total",
      help: "Commands delivered more than once, by command subject",
      labelNames: ["command"],
      registers,
    }),
    leasesLost: new Counter({ name: "sy_leases_lost_total", help: "Runs declared lost because their lease lapsed", registers }),
  };
}
