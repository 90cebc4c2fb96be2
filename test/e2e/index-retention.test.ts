// The per-tenant task index and task retention over real processes (docs/SECURITY.md): GET
// /v1/tasks reads the tenant's index in Redis (kept by the kernel), not every key of sy_tasks; a
// kernel rebuilds a lost index from sy_tasks; task records expire after TASK_RETENTION_HOURS.
import { redisKeys } from "@switchyard/contracts";
import { type Fleet, type ServiceProcess, startFleet, startService } from "@switchyard/devkit";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, http } from "../src/http.ts";
import { readStream } from "../src/sse.ts";
import { statusTrail } from "../src/support.ts";

let fleet: Fleet;
let G: string;
let redis: Redis;
let kernel2: ServiceProcess | undefined;
const as = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });
// 0.01 h: a record untouched for 36 s expires (long enough for the index test to finish first).
const RETENTION_HOURS = "0.01";

async function complete(token: string): Promise<string> {
  const res = await http("POST", `${G}/v1/tasks`, { agent: "hello", input: "x" }, as(token));
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  expect(statusTrail(await readStream(`${G}/v1/tasks/${res.body.id}/events`, as(token))).at(-1)).toBe("completed#1");
  return res.body.id;
}
const listed = async (token: string, query = "limit=500") =>
  ((await http("GET", `${G}/v1/tasks?${query}`, undefined, as(token))).body.items as { id: string }[]).map((t) => t.id);

beforeAll(async () => {
  fleet = await startFleet({ env: { API_KEYS: "ta:acme,tb:beta", TASK_RETENTION_HOURS: RETENTION_HOURS } });
  G = fleet.gatewayUrl;
  redis = new Redis(fleet.redisUrl);
});

afterAll(async () => {
  redis?.disconnect();
  await kernel2?.stop();
  await fleet?.stop();
});

describe("the per-tenant task index", () => {
  it("lists a tenant's tasks newest first from its index, pages with the cursor, and rebuilds a lost index", async () => {
    const ids = [await complete("ta"), await complete("ta"), await complete("ta")];
    const other = await complete("tb");
    expect(await listed("ta")).toEqual([...ids].reverse());
    expect(await listed("tb")).toEqual([other]);
    const page = (await http("GET", `${G}/v1/tasks?limit=2`, undefined, as("ta"))).body;
    expect(page.items.map((t: { id: string }) => t.id)).toEqual([ids[2], ids[1]]);
    expect(await listed("ta", `limit=2&cursor=${page.next_cursor}`)).toEqual([ids[0]]);
    expect(await redis.zcard(redisKeys.tenantTasks("acme"))).toBe(3);
    expect(await redis.scard(redisKeys.tenantActive("acme"))).toBe(0); // all finished

    // The list reads the index only: without it, nothing is listed (no scan of sy_tasks)…
    await redis.del(redisKeys.tenantTasks("acme"), redisKeys.taskIndexBuilt);
    expect(await listed("ta")).toEqual([]);
    // …until a kernel that finds the index missing rebuilds it from the records.
    await fleet.services.kernel.stop();
    kernel2 = await startService("kernel", {
      env: { NATS_URL: fleet.natsUrl, REDIS_URL: fleet.redisUrl, TASK_RETENTION_HOURS: RETENTION_HOURS },
      label: "kernel-2",
    });
    await eventually(async () => (await listed("ta")).length === 3, 20_000, "the index to be rebuilt");
    expect(await listed("ta")).toEqual([...ids].reverse());
  });
});

describe("retention", () => {
  it("a task record expires TASK_RETENTION_HOURS after its last change, and leaves the list", { timeout: 240_000 }, async () => {
    const id = await complete("ta");
    expect((await http("GET", `${G}/v1/tasks/${id}`, undefined, as("ta"))).status).toBe(200);
    await eventually(async () => (await http("GET", `${G}/v1/tasks/${id}`, undefined, as("ta"))).status === 404, 150_000, "the record to expire");
    expect(await listed("ta")).not.toContain(id);
  });
});
