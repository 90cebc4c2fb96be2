// What following a task with @switchyard/client costs next to a bare SSE reader: the same
// finished task's stream (10,000 text deltas) read alternately by each, CPU of this process and
// events/s printed. Run: eval "$(./switchyard env)" && node bench/src/client-follow.ts
import { createClient } from "@switchyard/client";
import { startFleet } from "@switchyard/devkit";
import { createParser } from "eventsource-parser";

const CHARS = Number(process.env.CHARS ?? 160_000); // 16 chars per delta → 10,000 events
const RUNS = Number(process.env.RUNS ?? 7);

const fleet = await startFleet();
const G = fleet.gatewayUrl;
try {
  const sy = createClient({ baseUrl: G });
  await sy.agents.put("bench-long", { model: "scripted", script: [{ text: "x".repeat(CHARS) }] });
  const run = await sy.tasks.run("bench-long", "go");
  const total = run.events.length;
  console.log(`task ${run.task.id}: ${run.status}, ${total} events`);

  async function raw(): Promise<number> {
    const res = await fetch(`${G}/v1/tasks/${run.task.id}/events`, { headers: { accept: "text/event-stream" } });
    let n = 0;
    const parser = createParser({
      onEvent(e) {
        JSON.parse(e.data);
        n++;
      },
    });
    const decoder = new TextDecoder();
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) parser.feed(decoder.decode(chunk, { stream: true }));
    return n;
  }
  async function sdk(): Promise<number> {
    let n = 0;
    for await (const _ of sy.tasks.follow(run.task.id)) n++;
    return n;
  }
  const measure = async (fn: () => Promise<number>) => {
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const n = await fn();
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    if (n !== total) throw new Error(`read ${n} events, expected ${total}`);
    return { eps: (n / ms) * 1000, cpuUsPerEvent: (cpu.user + cpu.system) / n };
  };
  const results: Record<"raw" | "sdk", { eps: number; cpuUsPerEvent: number }[]> = { raw: [], sdk: [] };
  await raw();
  await sdk(); // warm-up
  for (let i = 0; i < RUNS; i++) {
    results.raw.push(await measure(raw));
    results.sdk.push(await measure(sdk));
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
  for (const side of ["raw", "sdk"] as const) {
    const r = results[side];
    console.log(
      `${side === "raw" ? "raw SSE (fetch + eventsource-parser)" : "@switchyard/client tasks.follow   "}: ${median(r.map((x) => x.eps)).toFixed(0)} events/s, ${median(r.map((x) => x.cpuUsPerEvent)).toFixed(1)} µs CPU/event (client process; median of ${RUNS})`,
    );
  }
  const over = median(results.sdk.map((x) => x.cpuUsPerEvent)) / median(results.raw.map((x) => x.cpuUsPerEvent));
  console.log(`SDK CPU per event: ${over.toFixed(2)}× raw`);
} finally {
  await fleet.stop();
}
