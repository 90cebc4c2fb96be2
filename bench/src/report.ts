// The readable table at the end of a run: every figure with its load average, and the HTTP
// sides as ratios against the floor measured in the same run.
import type { BareResult } from "./baselines/bare.ts";
import type { LatencyResult, ThroughputPoint } from "./load.ts";
import { round } from "./proc.ts";
import type { FanoutResult } from "./scenarios/fanout.ts";
import { HEARTBEAT_MS, type HoldStep, LEASE_TTL_MS } from "./scenarios/hold.ts";
import type { RecoveryResult } from "./scenarios/recovery.ts";
import type { ScalePoint } from "./scenarios/scale.ts";
import type { StreamResult } from "./scenarios/stream.ts";

export interface Results {
  machine: {
    date: string;
    nproc: number;
    cpu: string;
    memory_gib: number;
    node: string;
    nats_server: string;
    redis_server: string;
    load_at_start: number[];
    command: string;
    settings: Record<string, string | undefined>;
  };
  throughput: ThroughputPoint[];
  latency: LatencyResult[];
  stream?: StreamResult;
  fanout?: FanoutResult;
  hold: (HoldStep | { skipped: number; reason: string })[];
  recovery: RecoveryResult[];
  bare: BareResult[];
  scale: ScalePoint[];
}

function table(head: string[], rows: (string | number)[][]): string {
  const cells = [head, ...rows.map((r) => r.map((c) => (typeof c === "number" && Number.isNaN(c) ? "–" : String(c))))];
  const widths = head.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? "").length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i] ?? 0)).join(" | ")} |`;
  return [line(head), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...cells.slice(1).map(line)].join("\n");
}

const x = (a: number, b: number, digits = 2) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(digits)}×` : "–");
const pct = (a: number, b: number) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${Math.round((a / b) * 100)}%` : "–");

export function renderTable(r: Results): string {
  const out: string[] = [];
  const m = r.machine;
  out.push(`\nSwitchyard benchmarks — ${m.date}, ${m.nproc} × ${m.cpu}, ${m.memory_gib} GiB, Node ${m.node}, ${m.nats_server}, ${m.redis_server}`);
  out.push(
    `load average at start ${m.load_at_start.join(" ")}; command: ${m.command} ${Object.entries(m.settings)
      .map(([k, v]) => `${k}=${v}`)
      .join(" ")}`,
  );

  const floor = r.throughput.find((t) => t.side === "floor");
  if (r.throughput.length) {
    out.push("\n(1) Throughput at saturation: submit over HTTP → completion seen on the task's SSE stream (closed loop, one client process)");
    out.push(
      table(
        ["side", "clients", "tasks/s", "vs floor", "server CPU ms/task", "vs floor", "client CPU ms/task", "completed p50/p99 ms", "errors", "load1"],
        r.throughput.map((t) => [
          t.side,
          t.clients,
          t.tasks_per_s,
          floor ? pct(t.tasks_per_s, floor.tasks_per_s) : "–",
          t.server_cpu_ms_per_task,
          floor ? x(t.server_cpu_ms_per_task, floor.server_cpu_ms_per_task, 1) : "–",
          t.client_cpu_ms_per_task,
          `${t.completed_ms.p50} / ${t.completed_ms.p99}`,
          t.errors,
          t.load1,
        ]),
      ),
    );
    const sy = r.throughput.find((t) => t.side === "switchyard");
    if (sy) {
      const parts = Object.entries(sy.server_cpu_by_process_ms_per_task)
        .sort((a, b) => b[1] - a[1])
        .map(([k, v]) => `${k} ${v}`);
      out.push(`switchyard server CPU ms/task by process: ${parts.join(", ")}`);
      if (sy.wire_per_task)
        out.push(
          `switchyard NATS traffic per task: ${Object.entries(sy.wire_per_task)
            .map(([k, v]) => `${k} ${v}`)
            .join(", ")}`,
        );
    }
    const bq = r.throughput.find((t) => t.side === "fastify+bullmq");
    if (bq) {
      const parts = Object.entries(bq.server_cpu_by_process_ms_per_task).map(([k, v]) => `${k} ${v}`);
      out.push(`fastify+bullmq server CPU ms/task by process: ${parts.join(", ")}`);
    }
  }
  if (r.latency.length) {
    out.push(`\n(2) Latency at a fixed offered load (evenly spaced arrivals): about half of each side's saturation, and a light load`);
    out.push(
      table(
        [
          "side",
          "load",
          "offered/s",
          "tasks",
          "202 p50/p99 ms",
          "first event p50/p95/p99 ms",
          "completed p50/p95/p99 ms",
          "server CPU ms/task",
          "errors",
          "load1",
        ],
        r.latency.map((l) => [
          l.side,
          l.at,
          l.offered_per_s,
          l.tasks,
          `${l.accepted_ms.p50} / ${l.accepted_ms.p99}`,
          `${l.first_event_ms.p50} / ${l.first_event_ms.p95} / ${l.first_event_ms.p99}`,
          `${l.completed_ms.p50} / ${l.completed_ms.p95} / ${l.completed_ms.p99}`,
          l.server_cpu_ms_per_task,
          l.errors,
          l.load1,
        ]),
      ),
    );
  }
  if (r.stream || r.fanout) out.push("\n(3) Streaming");
  if (r.stream) {
    const s = r.stream;
    out.push(
      table(
        ["one runner → one SSE client", "value"],
        [
          ["text.delta events/s at the client", s.delta_events_per_s],
          ["deltas (chunk chars) / all events", `${s.deltas} (${s.chunk_chars}) / ${s.events}`],
          ["submit → completed s", s.total_seconds],
          ["server CPU µs/event", s.server_cpu_us_per_event],
          ["client CPU µs/event", s.client_cpu_us_per_event],
          ["load1", s.load1],
        ],
      ),
    );
  }
  if (r.fanout) {
    const f = r.fanout;
    out.push(
      table(
        [`${f.followers} SSE followers of one task`, "value"],
        [
          ["delivery lag p50 / p95 / p99 / max ms", `${f.lag_ms.p50} / ${f.lag_ms.p95} / ${f.lag_ms.p99} / ${f.lag_ms.max}`],
          ["deliveries measured / events per follower", `${f.deliveries_measured} / ${f.events_per_follower}`],
          ["followers completed", f.completed_followers],
          ["all followers connected after ms", f.connect_all_ms],
          ["gateway RSS before → peak MB (KB/follower)", `${f.gateway_rss_mb_before} → ${f.gateway_rss_mb_peak} (${f.gateway_rss_kb_per_follower})`],
          ["CPU s gateway / nats-server / client", `${f.gateway_cpu_s} / ${f.nats_cpu_s} / ${f.client_cpu_s}`],
          ["load1", f.load1],
        ],
      ),
    );
  }
  if (r.hold.length) {
    out.push(`\n(4) One runner node holding tasks that wait on a slow model (heartbeat ${HEARTBEAT_MS} ms, lease TTL ${LEASE_TTL_MS} ms)`);
    const steps = r.hold.filter((h): h is HoldStep => "target" in h);
    out.push(
      table(
        [
          "target",
          "held",
          "submit/s",
          "s to hold",
          "heap MB idle→held",
          "heap KB/task",
          "RSS KB/task",
          "heartbeat age p50/max ms",
          "lease PTTL min ms",
          "on time",
          "CPU % runner/kernel/redis",
          "load1",
        ],
        steps.map((h) => [
          h.target,
          h.held,
          h.submit_per_s,
          h.seconds_to_hold,
          `${h.heap_mb_idle} → ${h.heap_mb}`,
          h.heap_kb_per_task,
          h.rss_kb_per_task,
          `${h.heartbeat_age_ms_p50} / ${h.heartbeat_age_ms_max}`,
          h.lease_pttl_ms_min,
          h.on_time ? "yes" : "NO",
          `${h.runner_cpu_pct} / ${h.kernel_cpu_pct} / ${h.redis_cpu_pct}`,
          h.load1,
        ]),
      ),
    );
    for (const h of r.hold) if ("skipped" in h) out.push(`skipped ${h.skipped}: ${h.reason}`);
  }
  if (r.recovery.length) {
    out.push("\n(5) Recovery: runner SIGKILLed → the task's SSE stream shows it running again (attempt 2) on the other node");
    out.push(
      table(
        ["settings", "median s", "trials (s)", "moved", "load1"],
        r.recovery.map((c) => [
          `${c.settings} ${Object.entries(c.env)
            .map(([k, v]) => `${k}=${v}`)
            .join(" ")}`,
          c.median_s,
          c.seconds.join(", "),
          c.moved ? "yes" : "NO",
          c.load1,
        ]),
      ),
    );
  }
  if (r.scale.length) {
    out.push("\n(7) Horizontal scale: slot-bound tasks (one sleep tool call) through more runner nodes");
    const one = r.scale[0]?.tasks_per_s ?? Number.NaN;
    out.push(
      table(
        ["runner nodes", "slots each", "tool sleep ms", "clients", "tasks/s", "vs 1 node", "slot utilisation", "p50 ms", "server CPU ms/task", "errors"],
        r.scale.map((p) => [
          p.runner_nodes,
          p.slots_per_node,
          p.tool_sleep_ms,
          p.clients,
          p.tasks_per_s,
          x(p.tasks_per_s, one),
          p.slot_utilisation,
          p.completed_ms_p50,
          p.server_cpu_ms_per_task,
          p.errors,
        ]),
      ),
    );
  }
  if (r.bare.length) {
    out.push("\n(6) Bare references, no HTTP (producer in this process, consumer/worker in its own)");
    out.push(
      table(
        ["side", "messages", "in flight", "per s", "round trip p50/p99 ms", "server CPU ms/msg", "client CPU ms/msg", "load1"],
        r.bare.map((b) => [
          b.side,
          b.messages,
          b.window,
          b.per_s,
          `${b.latency_ms.p50} / ${b.latency_ms.p99}`,
          `${b.server_cpu_ms_per_task} (${Object.entries(b.server_cpu_by_process_ms_per_task)
            .map(([k, v]) => `${k} ${v}`)
            .join(", ")})`,
          b.client_cpu_ms_per_task,
          b.load1,
        ]),
      ),
    );
  }
  out.push(targets(r));
  return out.join("\n");
}

/** The fast path's goals (issue 12; held tasks and recovery from issue 4), each with where this run stands. */
function targets(r: Results): string {
  const sy = r.throughput.find((t) => t.side === "switchyard");
  const bq = r.throughput.find((t) => t.side === "fastify+bullmq");
  const lat = r.latency.find((l) => l.side === "switchyard" && l.at.includes("saturation"));
  const held = r.hold.filter((h): h is HoldStep => "target" in h).at(-1);
  const fastest = r.recovery.length ? Math.min(...r.recovery.map((c) => c.median_s)) : Number.NaN;
  const msgs = sy?.wire_per_task ? (sy.wire_per_task.msgs_in ?? 0) + (sy.wire_per_task.msgs_out ?? 0) : undefined;
  const verdict = (ok: boolean | undefined) => (ok === undefined ? "not measured" : ok ? "met" : "not met");
  const rows: string[][] = [
    [
      "throughput ≥ 1.0× fastify+BullMQ",
      sy && bq ? `${sy.tasks_per_s} vs ${bq.tasks_per_s} tasks/s (${x(sy.tasks_per_s, bq.tasks_per_s)})` : "–",
      verdict(sy && bq ? sy.tasks_per_s >= bq.tasks_per_s : undefined),
    ],
    [
      "server CPU/task ≤ fastify+BullMQ",
      sy && bq ? `${sy.server_cpu_ms_per_task} vs ${bq.server_cpu_ms_per_task} ms` : "–",
      verdict(sy && bq ? sy.server_cpu_ms_per_task <= bq.server_cpu_ms_per_task : undefined),
    ],
    [
      "NATS messages per no-op task ≤ 15 (in + out)",
      msgs !== undefined && sy?.wire_per_task
        ? `${round(msgs)} (${sy.wire_per_task.msgs_in} in, ${sy.wire_per_task.msgs_out} out; by kind: npm run census -w bench)`
        : "–",
      verdict(msgs !== undefined ? msgs <= 15 : undefined),
    ],
    [
      "submit→completed p50 ≤ 5 ms, p99 ≤ 25 ms at half saturation",
      lat ? `${lat.completed_ms.p50} / ${lat.completed_ms.p99} ms` : "–",
      verdict(lat ? lat.completed_ms.p50 <= 5 && lat.completed_ms.p99 <= 25 : undefined),
    ],
    [
      "≥ 50,000 events/s to one client",
      r.stream ? `${r.stream.delta_events_per_s}/s` : "–",
      verdict(r.stream ? r.stream.delta_events_per_s >= 50_000 : undefined),
    ],
    [
      "1,000 followers, p99 lag ≤ 50 ms",
      r.fanout ? `${r.fanout.followers} followers, p99 ${r.fanout.lag_ms.p99} ms` : "–",
      verdict(r.fanout ? r.fanout.followers >= 1000 && r.fanout.lag_ms.p99 <= 50 : undefined),
    ],
    [
      "≥ 10,000 waiting tasks on one node at ≤ 20 KB heap each",
      held ? `${held.held} held, ${held.heap_kb_per_task} KB each, on time: ${held.on_time ? "yes" : "no"}` : "–",
      verdict(held ? held.held >= 10_000 && held.heap_kb_per_task <= 20 && held.on_time : undefined),
    ],
    ["recovery ≤ 3 s", r.recovery.map((c) => `${c.settings} ${c.median_s} s`).join(", ") || "–", verdict(r.recovery.length ? fastest <= 3 : undefined)],
  ];
  return `\nGoals (the fast path; held tasks and recovery from earlier work)\n${table(["target", "this run", "verdict"], rows)}`;
}
