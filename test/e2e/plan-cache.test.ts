// The kernel's plan cache (ARCHITECTURE.md §5): a submit runs the plan of exactly the agent
// revision the gateway checked. Repeated submits of one revision are planned without asking
// the spawner; a changed agent (a new revision) is compiled again, so no task ever runs an
// older definition than the one its submit was checked against.
import { type Fleet, startFleet } from "@switchyard/devkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { putAgents, submit, waitForTask } from "../src/support.ts";

let fleet: Fleet;
let G: string;

beforeAll(async () => {
  fleet = await startFleet({ runnerNodes: 1 });
  G = fleet.gatewayUrl;
});

afterAll(async () => {
  await fleet?.stop();
});

/** The kernel's plan cache counters. */
async function planCache(): Promise<{ hit: number; miss: number }> {
  const res = await fetch(`http://127.0.0.1:${fleet.services.kernel.readyLine.metrics_port}/metrics`);
  const text = await res.text();
  const read = (result: string) => Number(new RegExp(`^sy_plan_cache_total\\{[^}]*result="${result}"[^}]*\\} (\\S+)$`, "m").exec(text)?.[1] ?? 0);
  return { hit: read("hit"), miss: read("miss") };
}

async function runOnce(agent: string, input: string): Promise<string> {
  const id = await submit(G, agent, input);
  const task = await waitForTask(G, id, (t) => t.status === "completed" || t.status === "failed", 30_000, "the task to end");
  expect(task.status, JSON.stringify(task.error)).toBe("completed");
  return task.result.text as string;
}

describe("plan cache", () => {
  it("plans repeated submits of one revision from the cache, and a changed agent afresh", async () => {
    await putAgents(G, { "pc-agent": { model: "scripted", script: [{ text: "first {{input}}" }] } });
    const start = await planCache();
    expect(await runOnce("pc-agent", "a")).toBe("first a");
    expect(await runOnce("pc-agent", "b")).toBe("first b");
    expect(await runOnce("pc-agent", "c")).toBe("first c");
    const afterThree = await planCache();
    expect(afterThree.miss - start.miss, "one spawner compile for the revision").toBe(1);
    expect(afterThree.hit - start.hit, "the other submits from the cache").toBe(2);

    // A new revision: the very next submit runs it.
    await putAgents(G, { "pc-agent": { model: "scripted", script: [{ text: "second {{input}}" }] } });
    expect(await runOnce("pc-agent", "d")).toBe("second d");
    expect(await runOnce("pc-agent", "e")).toBe("second e");
    const end = await planCache();
    expect(end.miss - afterThree.miss).toBe(1);
    expect(end.hit - afterThree.hit).toBe(1);
  });

  it("keys the plan by the task's executor override too", async () => {
    await putAgents(G, {
      "pc-override": { model: "scripted", script: [{ text: "ok" }], executor_overrides: ["local"] },
    });
    const start = await planCache();
    await runOnce("pc-override", "x");
    await runOnce("pc-override", "y");
    const id = await submit(G, "pc-override", "z", { executor: { type: "local" } });
    const task = await waitForTask(G, id, (t) => t.status === "completed", 30_000, "completed");
    expect(task.executor).toEqual({ type: "local" });
    const end = await planCache();
    expect(end.miss - start.miss, "the default executor and the override are two plans").toBe(2);
    expect(end.hit - start.hit).toBe(1);
  });
});
