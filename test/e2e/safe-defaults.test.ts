// Safe defaults over real processes (docs/SECURITY.md): the fleet runs on a NATS that requires a
// user and password and a Redis that requires a password, both given only through the URLs, and
// no service logs either secret; a gateway on a non-loopback address without keys refuses to
// start unless AUTH=none says so.
import { connect } from "@nats-io/transport-node";
import { type Fleet, freePort, type ServiceProcess, startFleet, startService } from "@switchyard/devkit";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { http } from "../src/http.ts";
import { readStream } from "../src/sse.ts";
import { statusTrail } from "../src/support.ts";

const NATS_PASS = "n4ts-s3cret-pw";
const REDIS_PASS = "r3dis-s3cret-pw";
let fleet: Fleet;

beforeAll(async () => {
  fleet = await startFleet({ natsAuth: { user: "sy", pass: NATS_PASS }, redisPassword: REDIS_PASS });
});

afterAll(async () => {
  await fleet?.stop();
});

const allLogs = (extra: ServiceProcess[] = []) =>
  [fleet.services.spawner, fleet.services.kernel, fleet.services.gateway, ...fleet.services.runners, ...extra].flatMap((s) => s.logs()).join("\n");

describe("credentials in NATS_URL and REDIS_URL", () => {
  it("the servers refuse clients without them", async () => {
    const port = Number(new URL(fleet.natsUrl).port);
    await expect(connect({ servers: `127.0.0.1:${port}`, reconnect: false, timeout: 3000 })).rejects.toThrow(/authorization/i);
    const redis = new Redis(`redis://127.0.0.1:${new URL(fleet.redisUrl).port}`, { lazyConnect: true, maxRetriesPerRequest: 0 });
    redis.on("error", () => undefined); // the refusal is what we expect
    try {
      await redis.connect().catch(() => undefined);
      await expect(redis.get("x")).rejects.toThrow(/NOAUTH|auth/i);
    } finally {
      redis.disconnect();
    }
  });

  it("a task runs end to end, the replay cache is written, and no service logs a password", async () => {
    const G = fleet.gatewayUrl;
    const res = await http("POST", `${G}/v1/tasks`, { agent: "hello", input: "over authenticated buses" });
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    const events = await readStream(`${G}/v1/tasks/${res.body.id}/events`);
    expect(statusTrail(events).at(-1)).toBe("completed#1");
    const redis = new Redis(fleet.redisUrl);
    try {
      expect(await redis.hget(`sy:run:${res.body.id}`, "status")).toBeTruthy();
    } finally {
      redis.disconnect();
    }
    const logs = allLogs();
    expect(logs).toContain("[redacted]@127.0.0.1"); // the config lines name the URLs, without the secrets
    expect(logs).not.toContain(NATS_PASS);
    expect(logs).not.toContain(REDIS_PASS);
  });
});

describe("a gateway on a non-loopback address", () => {
  const gateway = async (env: Record<string, string>) =>
    startService("gateway", {
      env: { NATS_URL: fleet.natsUrl, REDIS_URL: fleet.redisUrl, PORT: String(await freePort()), HOST: "0.0.0.0", ...env },
      label: "gateway-exposed",
    });

  it("refuses to start without keys", async () => {
    const err = await gateway({}).then(
      async (g) => {
        await g.stop();
        return null;
      },
      (e: unknown) => e as Error,
    );
    expect(err, "the gateway started on 0.0.0.0 without keys").not.toBeNull();
    expect(String(err?.message)).toMatch(/refusing to listen on 0\.0\.0\.0 without API keys/);
  });

  it("starts with keys, or with AUTH=none said explicitly", async () => {
    for (const env of [{ API_KEYS: "k:acme" }, { AUTH: "none" }] as Record<string, string>[]) {
      const g = await gateway(env);
      try {
        const url = `http://127.0.0.1:${new URL(String(g.readyLine.url)).port}`;
        const res = await http("GET", `${url}/v1/tasks`);
        expect(res.status).toBe("API_KEYS" in env ? 401 : 200);
      } finally {
        await g.stop();
      }
    }
  });
});
