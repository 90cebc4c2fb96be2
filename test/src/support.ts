// Shared helpers of the cross-service suites (e2e and faults): submit and follow tasks, summarise what a client
// saw (for failure messages), read the replay cache, and print one `[fault]` line per case.
import type { Fleet, ServiceProcess } from "@switchyard/devkit";
import { expect } from "vitest";
import { eventually, http } from "./http.ts";
import { openStream, type ReceivedEvent, type SseStream } from "./sse.ts";

export type { ReceivedEvent } from "./sse.ts";

/** Short runner timings so a lost runner is noticed in about two seconds. */
export const FAST_RUNNER_ENV = { LEASE_TTL_MS: "1500", HEARTBEAT_MS: "300", NODE_TTL_MS: "1500" };
/** Short kernel timings (the reaper's grace and period). */
export const FAST_KERNEL_ENV = { LEASE_GRACE_MS: "1000", REAPER_INTERVAL_MS: "250" };

/** Four rounds of 700 ms tool sleeps and a final answer: about 3 s of work with three checkpoints. */
export const FOUR_ROUNDS = {
  model: "scripted",
  tools: ["sleep"],
  script: [
    { text: "round one", tool: { name: "sleep", args: { ms: 700 } } },
    { text: "round two", tool: { name: "sleep", args: { ms: 700 } } },
    { text: "round three", tool: { name: "sleep", args: { ms: 700 } } },
    { text: "round four", tool: { name: "sleep", args: { ms: 700 } } },
    { text: "done {{input}}" },
  ],
};

/** One `[fault]` line: what was broken, what a user observed, how long recovery took. */
export function report(line: string): void {
  console.log(`[fault] ${line}`);
}

export const secs = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

export const eventsUrl = (G: string, id: string): string => `${G}/v1/tasks/${id}/events`;

export const statusOf = (e: ReceivedEvent): string | undefined => (e.type === "status" ? String(e.data.data.status) : undefined);
export const isStatus = (e: ReceivedEvent, status: string, attempt?: number): boolean =>
  statusOf(e) === status && (attempt === undefined || e.data.attempt === attempt);
export const TERMINAL = new Set(["completed", "failed", "canceled"]);
export const terminalEvents = (events: ReceivedEvent[]): ReceivedEvent[] => events.filter((e) => TERMINAL.has(statusOf(e) ?? ""));

/** Status events as `status#attempt`, e.g. ["queued#1", "running#1", "completed#1"]. */
export const statusTrail = (events: ReceivedEvent[]): string[] => events.filter((e) => e.type === "status").map((e) => `${statusOf(e)}#${e.data.attempt}`);

/** A compact picture of a stream for failure messages: runs of text.delta collapsed, attempts marked. */
export function describeEvents(events: ReceivedEvent[]): string {
  const parts: string[] = [];
  let deltas = 0;
  for (const e of events) {
    if (e.type === "text.delta") {
      deltas++;
      continue;
    }
    if (deltas) parts.push(`text.delta×${deltas}`);
    deltas = 0;
    const round = typeof e.data.data.round === "number" ? `r${e.data.data.round}` : "";
    const what = e.type === "status" ? `status:${statusOf(e)}` : `${e.type}${round ? `(${round})` : ""}`;
    const code = (e.data.data.error as { code?: string } | undefined)?.code;
    parts.push(`${e.id}:${what}#${e.data.attempt}${code ? `[${code}]` : ""}`);
  }
  if (deltas) parts.push(`text.delta×${deltas}`);
  return parts.join(", ") || "(no events)";
}

export async function putAgents(G: string, defs: Record<string, unknown>): Promise<void> {
  for (const [name, def] of Object.entries(defs)) {
    const res = await http("PUT", `${G}/v1/agents/${name}`, def);
    expect(res.status, `PUT /v1/agents/${name}: ${JSON.stringify(res.body)}`).toBe(200);
  }
}

export async function submit(
  G: string,
  agent: string,
  input: unknown,
  extra: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): Promise<string> {
  const res = await http("POST", `${G}/v1/tasks`, { agent, input, ...extra }, headers);
  expect(res.status, `POST /v1/tasks (${agent}): ${JSON.stringify(res.body)}`).toBe(202);
  return res.body.id as string;
}

export async function getTask(G: string, id: string): Promise<any> {
  return (await http("GET", `${G}/v1/tasks/${id}`)).body;
}

/** Waits for the stream to end at its terminal status; on timeout says what it saw and what GET says. */
export async function untilTerminal(G: string, id: string, stream: SseStream, timeoutMs: number): Promise<ReceivedEvent[]> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<"timeout">((r) => {
    timer = setTimeout(() => r("timeout"), timeoutMs);
  });
  const outcome = await Promise.race([stream.done.then(() => "done" as const), timedOut]);
  clearTimeout(timer);
  if (outcome === "timeout") {
    stream.close();
    const task = await getTask(G, id).catch(() => ({}));
    throw new Error(
      `task ${id}: the stream did not end within ${secs(timeoutMs)}; task is ${task.status} (attempt ${task.attempt}); events: ${describeEvents(stream.events)}`,
    );
  }
  return stream.events;
}

/** Polls GET /v1/tasks/:id until `pred` holds; the error names the last status seen. */
export async function waitForTask(G: string, id: string, pred: (t: any) => boolean, timeoutMs: number, what: string): Promise<any> {
  let last: any = null;
  try {
    return await eventually(
      async () => {
        last = await getTask(G, id);
        return pred(last) ? last : null;
      },
      timeoutMs,
      what,
    );
  } catch {
    throw new Error(`task ${id}: timed out after ${secs(timeoutMs)} waiting for ${what}; last GET: ${JSON.stringify(last)}`);
  }
}

/** The node that runs the task now, from the live fields of GET /v1/tasks/:id. */
export async function ownerNode(G: string, id: string): Promise<string> {
  const t = await waitForTask(G, id, (t) => t.status === "running" && typeof t.live?.node_id === "string", 5000, "live.node_id");
  return t.live.node_id as string;
}

export function runnerByLabel(fleet: Fleet, label: string): ServiceProcess {
  const r = fleet.services.runners.find((s) => s.label === label);
  if (!r) throw new Error(`no runner process labelled ${label} (have ${fleet.services.runners.map((s) => s.label).join(", ")})`);
  return r;
}

/** Starts runner nodes until `n` of the fleet's runner processes are alive. */
export async function ensureRunners(fleet: Fleet, n: number): Promise<ServiceProcess[]> {
  while (fleet.services.runners.filter((r) => r.isRunning()).length < n) await fleet.addRunner();
  return fleet.services.runners.filter((r) => r.isRunning());
}

/** Resolves with the first of the log lines, or null when none shows up in time. */
export async function firstLog(waits: Promise<unknown>[]): Promise<unknown> {
  return Promise.any(waits).catch(() => null);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface ResilientFollower {
  /** Everything received, over all connections, in arrival order. */
  events: ReceivedEvent[];
  /** Resolves once the terminal status arrived (or the deadline passed). */
  done: Promise<ReceivedEvent[]>;
  /** Connections that ended (or stalled) before the terminal status and were reopened. */
  reconnects: number;
  /** Connections closed by us because nothing arrived for `stallMs`. */
  stalls: number;
  /** Cuts the current connection, as a network blip would; the follower reconnects. */
  drop(): void;
  stop(): void;
}

/**
 * A client that keeps following a task through outages, as a browser's EventSource would:
 * when the connection ends before the terminal status (or the gateway answers with an error),
 * it reconnects after 250 ms with Last-Event-ID set to the last event it got.
 */
export function followResilient(url: string, opts: { deadlineMs: number; stallMs: number }): ResilientFollower {
  const f: ResilientFollower = { events: [], done: Promise.resolve([]), reconnects: 0, stalls: 0, drop: () => {}, stop: () => {} };
  let stopped = false;
  let current: SseStream | undefined;
  f.drop = () => current?.close();
  f.stop = () => {
    stopped = true;
    current?.close();
  };
  const deadline = Date.now() + opts.deadlineMs;
  f.done = (async () => {
    while (!stopped && Date.now() < deadline) {
      const last = f.events.at(-1);
      const s = openStream(url, last ? { "last-event-id": String(last.id) } : {});
      current = s;
      let ended = false;
      void s.done.then(
        () => (ended = true),
        () => (ended = true),
      );
      let seen = 0;
      let progressAt = Date.now();
      const take = () => {
        f.events.push(...s.events.slice(seen));
        seen = s.events.length;
      };
      while (!ended && !stopped && Date.now() < deadline) {
        await sleep(100);
        if (s.events.length > seen) {
          take();
          progressAt = Date.now();
        } else if (Date.now() - progressAt > opts.stallMs) {
          f.stalls++;
          s.close();
          break;
        }
      }
      if (!ended) s.close();
      await s.done.catch(() => undefined);
      take();
      if (terminalEvents(f.events).length > 0) return f.events;
      if (stopped || Date.now() >= deadline) break;
      f.reconnects++;
      await sleep(250);
    }
    return f.events;
  })();
  return f;
}

/** Asserts `wanted` appear in this order within `actual` (not necessarily adjacent). */
export function expectSubsequence(actual: string[], wanted: string[]): void {
  let i = 0;
  for (const t of actual) if (t === wanted[i]) i++;
  expect(i, `expected ${wanted.join(" → ")} in order within ${actual.join(",")}`).toBe(wanted.length);
}
