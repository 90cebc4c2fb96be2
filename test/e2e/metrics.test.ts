// Prometheus metrics over real processes: every service serves /metrics (kernel, spawner and
// runner-pool on METRICS_PORT, announced in their ready line; the gateway on its API port),
// and the values move as tasks run: statuses, waits, rounds, tokens, tool calls, slots,
// queue depth and age, SSE followers.
import { type Fleet, type ServiceProcess, startFleet } from "@switchyard/devkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, http } from "../src/http.ts";
import { openStream, readStream } from "../src/sse.ts";
import { eventsUrl, putAgents, submit, waitForTask } from "../src/support.ts";

let fleet: Fleet;
let G: string;

beforeAll(async () => {
  fleet = await startFleet({ runnerNodes: 1, env: { LOG_LEVEL: "info" } });
  G = fleet.gatewayUrl;
  await putAgents(G, {
    "m-hello": {
      model: "scripted",
      tools: ["echo"],
      // One test queues a task on a kind no node serves.
      executor_overrides: ["m-nowhere"],
      script: [
        // `nope` is not a tool of this agent: its call comes back as an error.
        {
          text: "calling",
          tools: [
            { name: "echo", args: { q: "{{input}}" } },
            { name: "nope", args: {} },
          ],
        },
        { text: "done {{input}}" },
      ],
    },
    "m-slow": { model: "scripted", tools: ["sleep"], script: [{ text: "waiting", tool: { name: "sleep", args: { ms: 60_000 } } }, { text: "done" }] },
  });
});

afterAll(async () => {
  await fleet?.stop();
});

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

function parseProm(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)$/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

/** The sum of the samples named `name` whose labels include `labels` (0 when none). */
function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((sum, s) => sum + s.value, 0);
}

const metricsUrl = (s: ServiceProcess) => `http://127.0.0.1:${s.readyLine.metrics_port}/metrics`;

async function scrape(url: string): Promise<Sample[]> {
  const res = await fetch(url);
  expect(res.status, url).toBe(200);
  return parseProm(await res.text());
}

describe("metrics", () => {
  it("kernel, spawner and runner-pool serve /metrics and /healthz on METRICS_PORT", async () => {
    for (const s of [fleet.services.kernel, fleet.services.spawner, ...fleet.services.runners]) {
      expect(s.readyLine.metrics_port, `${s.label} announces metrics_port`).toEqual(expect.any(Number));
      const health = await http("GET", `http://127.0.0.1:${s.readyLine.metrics_port}/healthz`);
      expect(health.status, `${s.label} /healthz`).toBe(200);
      const samples = await scrape(metricsUrl(s));
      expect(value(samples, "sy_process_cpu_seconds_total"), `${s.label} default metrics`).toBeGreaterThan(0);
    }
  });

  it("counts tasks, waits, rounds, tokens and tool calls as tasks complete", async () => {
    const kernelBefore = await scrape(metricsUrl(fleet.services.kernel));
    const runnerBefore = await scrape(metricsUrl(fleet.services.runners[0]!));
    const n = 3;
    const ids = await Promise.all(Array.from({ length: n }, (_, i) => submit(G, "m-hello", `m${i}`)));
    for (const id of ids) await readStream(eventsUrl(G, id));

    const k = await scrape(metricsUrl(fleet.services.kernel));
    const delta = (name: string, labels: Record<string, string> = {}) => value(k, name, labels) - value(kernelBefore, name, labels);
    expect(delta("sy_task_status_total", { status: "completed", agent: "m-hello" })).toBe(n);
    expect(delta("sy_task_status_total", { status: "running", agent: "m-hello" })).toBe(n);
    expect(delta("sy_task_queue_wait_seconds_count", { kind: "local" })).toBe(n);
    expect(delta("sy_task_run_seconds_count", { status: "completed" })).toBe(n);
    // Round 1 asks for tools (checked: proceed); the final round asks for none, so the runner
    // judges it without a check (ARCHITECTURE.md §8): exactly one check per task.
    expect(delta("sy_rounds_total", { verdict: "proceed" })).toBe(n);
    expect(
      k.some((s) => s.name === "sy_leases_lost_total"),
      "sy_leases_lost_total is exported",
    ).toBe(true);

    // The runner's counters move a moment after the run's last report.
    const r = await eventually(
      async () => {
        const r = await scrape(metricsUrl(fleet.services.runners[0]!));
        const runs =
          value(r, "sy_runs_total", { kind: "local", outcome: "finished" }) - value(runnerBefore, "sy_runs_total", { kind: "local", outcome: "finished" });
        return runs >= n ? r : null;
      },
      10_000,
      "sy_runs_total to count the runs",
    );
    const rdelta = (name: string, labels: Record<string, string>) => value(r, name, labels) - value(runnerBefore, name, labels);
    expect(rdelta("sy_runs_total", { kind: "local", outcome: "finished" })).toBe(n);
    expect(rdelta("sy_tool_calls_total", { tool: "echo", outcome: "ok" })).toBe(n);
    expect(rdelta("sy_tool_calls_total", { tool: "nope", outcome: "error" })).toBe(n);
    expect(rdelta("sy_model_tokens_total", { provider: "scripted", model: "scripted", type: "output" })).toBeGreaterThan(0);
    expect(rdelta("sy_model_tokens_total", { provider: "scripted", model: "scripted", type: "input" })).toBeGreaterThan(0);
    expect(value(r, "sy_runner_slots_total")).toBe(16);
  });

  it("shows in-flight runs, queue depth and the oldest waiting task per kind, and SSE followers", async () => {
    const slow = await submit(G, "m-slow", "x");
    // A kind no node serves: it waits in the queue.
    const queued = await submit(G, "m-hello", "q", { executor: { type: "remote", runner: { kind: "m-nowhere", config: {} } } });
    await waitForTask(G, slow, (t) => t.status === "running", 15_000, "running");
    const follower = openStream(eventsUrl(G, slow));
    await follower.waitFor((e) => e.type === "tool.call", 15_000);

    const k = await scrape(metricsUrl(fleet.services.kernel));
    expect(value(k, "sy_tasks", { status: "running", kind: "local" })).toBeGreaterThanOrEqual(1);
    expect(value(k, "sy_tasks", { status: "queued", kind: "m-nowhere" })).toBe(1);
    expect(value(k, "sy_queue_oldest_seconds", { kind: "m-nowhere" })).toBeGreaterThan(0);
    const r = await scrape(metricsUrl(fleet.services.runners[0]!));
    expect(value(r, "sy_runner_slots_used", { kind: "local" })).toBeGreaterThanOrEqual(1);
    const g = await scrape(`${G}/metrics`);
    expect(value(g, "sy_sse_followers")).toBeGreaterThanOrEqual(1);
    // The followed task's feed holds its frames in the live feed's ring.
    expect(value(g, "sy_sse_feeds")).toBeGreaterThanOrEqual(1);
    expect(value(g, "sy_sse_ring_bytes")).toBeGreaterThan(0);

    follower.close();
    for (const id of [slow, queued]) expect((await http("POST", `${G}/v1/tasks/${id}/cancel`, {})).status).toBe(202);
    await waitForTask(G, slow, (t) => t.status === "canceled", 15_000, "canceled");
    const after = await eventually(
      async () => {
        const k = await scrape(metricsUrl(fleet.services.kernel));
        return value(k, "sy_tasks", { kind: "m-nowhere" }) === 0 ? k : null;
      },
      10_000,
      "the canceled task to leave the queue gauge",
    );
    expect(value(after, "sy_queue_oldest_seconds", { kind: "m-nowhere" })).toBe(0);
    await eventually(async () => value(await scrape(`${G}/metrics`), "sy_sse_followers") === 0, 10_000, "sy_sse_followers back to 0");
    await eventually(
      async () => value(await scrape(metricsUrl(fleet.services.runners[0]!)), "sy_runner_slots_used", { kind: "local" }) === 0,
      10_000,
      "slots used back to 0",
    );
  });
});
