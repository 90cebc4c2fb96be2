// Load drivers shared by every HTTP side (the floor, fastify + BullMQ, Switchyard): one task is
// `POST /v1/tasks` and then following its SSE stream until the terminal status, as a real
// client does. `closedLoop` finds throughput with N clients each running tasks back to back;
// `openLoop` offers a fixed arrival rate and records per-task latencies.
import { followSse, requestJson } from "./http-client.ts";
import { CpuMeter, load1, round } from "./proc.ts";
import { type Summary, summarize } from "./stats.ts";

export interface HttpSide {
  name: string;
  baseUrl: string;
  agent: string;
  /** Every server-side process of this side (services, brokers, workers), by name. */
  pids: Record<string, number>;
  /** Cumulative wire counters (NATS messages, bytes, JetStream API calls), when the side has them. */
  counters?: () => Promise<Record<string, number>>;
}

export interface TaskTiming {
  /** All in ms from just before the POST. */
  acceptedMs: number;
  firstEventMs: number;
  completedMs: number;
  ok: boolean;
  /** The terminal status seen, or null when the stream ended without one. */
  terminal: string | null;
  /** Why a task is not ok, for the error report. */
  problem?: string;
}

export async function runOneTask(side: HttpSide, input = "bench"): Promise<TaskTiming> {
  const t0 = performance.now();
  const res = await requestJson(side.baseUrl, "POST", "/v1/tasks", { agent: side.agent, input });
  const accepted = performance.now();
  if (res.status !== 202) throw new Error(`${side.name}: submit answered ${res.status} ${JSON.stringify(res.body).slice(0, 200)}`);
  const id = String(res.body.id);
  let lastType = "";
  const follow = await followSse(side.baseUrl, typeof res.body.events_url === "string" ? res.body.events_url : `/v1/tasks/${id}/events`, {
    onEvent: (f) => {
      lastType = f.type === "status" ? `status ${/"status":"(\w+)"/.exec(f.data)?.[1] ?? "?"}` : f.type;
    },
  });
  let problem: string | undefined;
  if (follow.terminalStatus === null) {
    // Say what the server thinks, to tell a lost event from a task that never finished.
    const task = await requestJson(side.baseUrl, "GET", `/v1/tasks/${id}`).catch(() => ({ status: 0, body: {} as Record<string, unknown> }));
    problem = `SSE stream ended without a terminal status after ${follow.events} events (last: ${lastType || "none"}); GET says ${String(task.body.status ?? task.status)}`;
  } else if (follow.terminalStatus !== "completed") problem = `task ended ${follow.terminalStatus}`;
  return {
    acceptedMs: accepted - t0,
    firstEventMs: follow.firstEventAt - t0,
    completedMs: follow.terminalAt - t0,
    ok: follow.terminalStatus === "completed",
    terminal: follow.terminalStatus,
    ...(problem ? { problem } : {}),
  };
}

export interface ThroughputPoint {
  side: string;
  clients: number;
  tasks: number;
  seconds: number;
  tasks_per_s: number;
  errors: number;
  /** Server CPU ms per completed task, summed over the side's processes. */
  server_cpu_ms_per_task: number;
  client_cpu_ms_per_task: number;
  server_cpu_by_process_ms_per_task: Record<string, number>;
  /** Wire counters per completed task (NATS msgs/bytes in and out, JetStream API calls). */
  wire_per_task?: Record<string, number>;
  completed_ms: Summary;
  load1: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `clients` loops of submit → follow → completed, back to back; measured after a warm-up. */
export async function closedLoop(side: HttpSide, clients: number, warmupMs: number, measureMs: number): Promise<ThroughputPoint> {
  const meter = new CpuMeter(side.pids);
  let windowStart = Number.POSITIVE_INFINITY;
  let windowEnd = Number.POSITIVE_INFINITY;
  let stop = false;
  let completed = 0;
  let errors = 0;
  let lastError = "";
  const latencies: number[] = [];
  const worker = async () => {
    while (!stop) {
      try {
        const t = await runOneTask(side);
        const end = performance.now();
        if (end >= windowStart && end <= windowEnd) {
          if (t.ok) {
            completed++;
            latencies.push(t.completedMs);
          } else {
            errors++;
            lastError = t.problem ?? "";
          }
        }
      } catch (err) {
        errors++;
        lastError = (err as Error).message;
        await sleep(20);
      }
    }
  };
  const workers = Array.from({ length: clients }, () => worker());
  await sleep(warmupMs);
  const countersBefore = await side.counters?.();
  meter.start();
  windowStart = performance.now();
  await sleep(measureMs);
  windowEnd = performance.now();
  const cpu = meter.stop();
  const countersAfter = await side.counters?.();
  const load = load1();
  stop = true;
  await Promise.race([Promise.all(workers), sleep(15_000)]);
  if (errors > 0) console.error(`[bench] ${side.name}: ${errors} errors at ${clients} clients; last: ${lastError}`);
  const seconds = (windowEnd - windowStart) / 1000;
  const perTask = (s: number) => (completed > 0 ? round((s * 1000) / completed, 3) : Number.NaN);
  return {
    side: side.name,
    clients,
    tasks: completed,
    seconds: round(seconds, 2),
    tasks_per_s: round(completed / seconds, 1),
    errors,
    server_cpu_ms_per_task: perTask(cpu.total),
    client_cpu_ms_per_task: perTask(cpu.client),
    server_cpu_by_process_ms_per_task: Object.fromEntries(Object.entries(cpu.perProcess).map(([k, v]) => [k, perTask(v)])),
    ...(countersBefore && countersAfter && completed > 0
      ? { wire_per_task: Object.fromEntries(Object.entries(countersAfter).map(([k, v]) => [k, round((v - (countersBefore[k] ?? 0)) / completed, 1)])) }
      : {}),
    completed_ms: summarize(latencies),
    load1: load,
  };
}

export interface LatencyResult {
  side: string;
  /** What the offered load is: a fraction of saturation, or a fixed light rate. */
  at: string;
  offered_per_s: number;
  achieved_per_s: number;
  tasks: number;
  errors: number;
  accepted_ms: Summary;
  first_event_ms: Summary;
  completed_ms: Summary;
  server_cpu_ms_per_task: number;
  client_cpu_ms_per_task: number;
  load1: number;
}

/** Evenly spaced arrivals at `ratePerS`; latencies of the tasks submitted after the warm-up. */
export async function openLoop(side: HttpSide, ratePerS: number, warmupMs: number, measureMs: number, at: string): Promise<LatencyResult> {
  const meter = new CpuMeter(side.pids);
  const timings: TaskTiming[] = [];
  const inFlight = new Set<Promise<void>>();
  let errors = 0;
  let lastError = "";
  const t0 = performance.now();
  const measureFrom = t0 + warmupMs;
  const end = measureFrom + measureMs;
  let launched = 0;
  let measuredLaunched = 0;
  let meterStarted = false;
  for (;;) {
    const now = performance.now();
    if (now >= end) break;
    if (!meterStarted && now >= measureFrom) {
      meter.start();
      meterStarted = true;
    }
    const due = Math.floor(((now - t0) / 1000) * ratePerS);
    while (launched < due) {
      launched++;
      const measured = now >= measureFrom;
      if (measured) measuredLaunched++;
      const p = runOneTask(side).then(
        (t) => {
          if (measured) timings.push(t);
          if (measured && !t.ok) lastError = t.problem ?? "";
        },
        (err: unknown) => {
          if (measured) {
            errors++;
            lastError = (err as Error).message;
          }
        },
      );
      inFlight.add(p);
      void p.finally(() => inFlight.delete(p));
    }
    await sleep(1);
  }
  const cpu = meter.stop();
  const load = load1();
  await Promise.race([Promise.all(inFlight), sleep(15_000)]);
  if (errors > 0 || timings.some((t) => !t.ok)) console.error(`[bench] ${side.name}: errors in the latency run; last: ${lastError}`);
  const ok = timings.filter((t) => t.ok);
  const perTask = (s: number) => (measuredLaunched > 0 ? round((s * 1000) / measuredLaunched, 3) : Number.NaN);
  return {
    side: side.name,
    at,
    offered_per_s: round(ratePerS, 1),
    achieved_per_s: round(measuredLaunched / (measureMs / 1000), 1),
    tasks: ok.length,
    errors: errors + (timings.length - ok.length),
    accepted_ms: summarize(ok.map((t) => t.acceptedMs)),
    first_event_ms: summarize(ok.map((t) => t.firstEventMs)),
    completed_ms: summarize(ok.map((t) => t.completedMs)),
    server_cpu_ms_per_task: perTask(cpu.total),
    client_cpu_ms_per_task: perTask(cpu.client),
    load1: load,
  };
}

/** The best of several closed-loop points: saturation throughput and the clients it took. */
export async function saturate(
  side: HttpSide,
  clientCounts: number[],
  warmupMs: number,
  measureMs: number,
  emit: (p: ThroughputPoint) => void,
): Promise<ThroughputPoint> {
  let best: ThroughputPoint | undefined;
  for (const c of clientCounts) {
    const p = await closedLoop(side, c, warmupMs, measureMs);
    emit(p);
    if (!best || p.tasks_per_s > best.tasks_per_s) best = p;
  }
  return best as ThroughputPoint;
}
