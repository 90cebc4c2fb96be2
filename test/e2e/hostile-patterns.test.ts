// Patterns a client writes cannot stall the kernel for everyone (issue 11, hole 5): an approval
// glob built to backtrack, checked against a long tool name, and an external tool's `returns`
// schema with a catastrophic `pattern`, answered with a value built to trigger it. Either used
// to hold the kernel's one thread for minutes; here another tenant's task completes meanwhile
// and the hostile inputs are matched or refused. Timings are printed, not asserted.
import { type Fleet, startFleet } from "@switchyard/devkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { http } from "../src/http.ts";
import { FAST_KERNEL_ENV, FAST_RUNNER_ENV, putAgents, submit, waitForTask } from "../src/support.ts";

let fleet: Fleet;
let G: string;
/** A tool name the glob below backtracks on: picomatch needs about 3 s at 50 characters, ~n^7. */
const LONG_TOOL = "a".repeat(120);
const HOSTILE_GLOB = "*a*a*a*a*a*a*a*b";
/** The victim must finish well inside this; the old kernel was held for many minutes. */
const VICTIM_BOUND_MS = 30_000;

beforeAll(async () => {
  fleet = await startFleet({ runnerNodes: 1, env: { LOG_LEVEL: "info", ...FAST_KERNEL_ENV }, runnerEnv: FAST_RUNNER_ENV });
  G = fleet.gatewayUrl;
  await putAgents(G, {
    "redos-glob": {
      model: "scripted",
      tools: [LONG_TOOL],
      approval: { policy: "pattern", tools: [HOSTILE_GLOB] },
      script: [{ text: "calling", tool: { name: LONG_TOOL, args: {} } }, { text: "glob survived" }],
    },
    "redos-schema": {
      model: "scripted",
      tools: [{ name: "lookup", external: true, returns: { type: "object", properties: { s: { type: "string", pattern: "^(a+)+$" } }, required: ["s"] } }],
      script: [{ text: "asking", tool: { name: "lookup", args: {} } }, { text: "schema survived" }],
    },
    victim: { model: "scripted", script: [{ text: "victim done" }] },
  });
});

afterAll(async () => {
  await fleet?.stop();
});

async function victimCompletes(): Promise<number> {
  const t0 = Date.now();
  const id = await submit(G, "victim", "hi");
  const t = await waitForTask(G, id, (t) => t.status === "completed", VICTIM_BOUND_MS, "the victim task to complete");
  expect(t.result).toEqual({ text: "victim done" });
  return Date.now() - t0;
}

describe("hostile patterns", () => {
  it("a backtracking approval glob against a long tool name is matched at once; another task completes meanwhile", async () => {
    const t0 = Date.now();
    const hostile = await submit(G, "redos-glob", "x");
    const victimMs = await victimCompletes();
    const t = await waitForTask(G, hostile, (t) => t.status === "completed" || t.status === "failed", VICTIM_BOUND_MS, "the hostile task to end");
    console.log(
      `[redos] glob '${HOSTILE_GLOB}' vs a ${LONG_TOOL.length}-character tool name: hostile task ${t.status} in ${Date.now() - t0} ms; victim completed in ${victimMs} ms`,
    );
    expect(t.status).toBe("completed"); // the glob did not match (no 'b'), so the call ran without approval
  });

  it("a catastrophic returns pattern answered with a hostile value is refused with a 400 at once; another task completes meanwhile", async () => {
    const id = await submit(G, "redos-schema", "x");
    await waitForTask(G, id, (t) => t.status === "input_required", 20_000, "the task to wait for the external tool");
    const t0 = Date.now();
    const answer = http("POST", `${G}/v1/tasks/${id}/tool-results`, { call_id: "call_1_1", result: { s: `${"a".repeat(5000)}!` } });
    const victimMs = await victimCompletes();
    const res = await answer;
    console.log(`[redos] pattern '^(a+)+$' vs 5,001 characters: answered ${res.status} in ${Date.now() - t0} ms; victim completed in ${victimMs} ms`);
    expect(res.status, JSON.stringify(res.body)).toBe(400);
    expect(res.body.error.details).toEqual([{ path: "result.s", message: expect.stringContaining("must match pattern") }]);
    // A fitting answer still resumes the task.
    const ok = await http("POST", `${G}/v1/tasks/${id}/tool-results`, { call_id: "call_1_1", result: { s: "aaaa" } });
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect((await waitForTask(G, id, (t) => t.status === "completed", 30_000, "the task to resume and complete")).result).toEqual({ text: "schema survived" });
  });

  it("refuses at agent PUT a glob outside the restricted syntax and a pattern the linear-time engine cannot run", async () => {
    const glob = await http("PUT", `${G}/v1/agents/redos-bad-glob`, {
      model: "scripted",
      script: [{ text: "x" }],
      approval: { policy: "pattern", tools: ["pay.{a,b}"] },
    });
    expect(glob.status).toBe(400);
    expect(glob.body.error.details).toEqual([{ path: "approval.tools.0", message: expect.stringContaining("glob") }]);
    const schema = await http("PUT", `${G}/v1/agents/redos-bad-schema`, {
      model: "scripted",
      script: [{ text: "x" }],
      tools: [{ name: "t", external: true, returns: { type: "string", pattern: "^(?=a)(a|aa)+\\1$" } }],
    });
    expect(schema.status).toBe(400);
    expect(schema.body.error.details).toEqual([{ path: "tools.0.returns", message: expect.stringContaining("pattern is not supported") }]);
  });
});
