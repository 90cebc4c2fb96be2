// Parsed agent definitions against real KV entries (a nats-server, the agents bucket): an entry
// whose bytes were parsed before is not parsed again, a changed definition is, and a value that
// does not parse stays unparsed. Each submit still reads its entry fresh; only the parse is kept.
import { agentKey } from "@switchyard/contracts";
import { type NatsServer, startNats } from "@switchyard/devkit";
import { BaseEnv, connectNats, createLogger, ensureTopology, type KV, type NatsConnection } from "@switchyard/runtime";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ParsedAgents } from "./parsed-agents.ts";

const S = [{ text: "ok" }];
const log = createLogger("gateway-test", { level: "silent", format: "json" });
let nats: NatsServer;
let nc: NatsConnection;
let agents: KV;

beforeAll(async () => {
  nats = await startNats();
  nc = await connectNats(nats.url, "parsed-agents-test", log);
  agents = (await ensureTopology(nc, BaseEnv.parse({}))).agents;
}, 30_000);
afterAll(async () => {
  await nc?.close();
  await nats?.stop();
});

async function put(key: string, def: unknown) {
  await agents.put(key, JSON.stringify(def));
  const entry = await agents.get(key);
  if (!entry) throw new Error(`no entry ${key}`);
  return entry;
}

describe("ParsedAgents", () => {
  it("parses a definition once per value, and again when it changes", async () => {
    const parsed = new ParsedAgents();
    const key = agentKey("acme", "writer");
    const first = parsed.of(await put(key, { name: "writer", model: "scripted", script: S, limits: { max_rounds: 4 } }));
    expect(first.def?.limits.max_rounds).toBe(4);
    expect(first.def?.executor).toEqual({ type: "local" }); // the schema's default
    expect(first.executor).toBeUndefined(); // none stored
    // The same bytes under a new revision: the same parse.
    expect(parsed.of(await put(key, { name: "writer", model: "scripted", script: S, limits: { max_rounds: 4 } }))).toBe(first);
    const changed = parsed.of(await put(key, { name: "writer", model: "scripted", script: S, limits: { max_rounds: 2 }, executor: { type: "local" } }));
    expect(changed).not.toBe(first);
    expect(changed.def?.limits.max_rounds).toBe(2);
    expect(changed.executor).toEqual({ type: "local" });
    expect(parsed.size).toBe(1);
  });

  it("keeps a value that does not parse unparsed, with its executor when that is valid", async () => {
    const parsed = new ParsedAgents();
    const bad = parsed.of(
      await put(agentKey(undefined, "broken"), { name: "broken", model: "scripted", script: S, unknown_field: 1, executor: { type: "local" } }),
    );
    expect(bad.def).toBeNull();
    expect(bad.executor).toEqual({ type: "local" });
  });

  it("tells agents apart by key, and forgets the oldest past its bound", async () => {
    const parsed = new ParsedAgents(2);
    const a = parsed.of(await put(agentKey("t1", "same"), { name: "same", model: "scripted", script: S, limits: { max_rounds: 1 } }));
    const b = parsed.of(await put(agentKey("t2", "same"), { name: "same", model: "scripted", script: S, limits: { max_rounds: 3 } }));
    expect([a.def?.limits.max_rounds, b.def?.limits.max_rounds]).toEqual([1, 3]);
    parsed.of(await put(agentKey("t3", "same"), { name: "same", model: "scripted", script: S }));
    expect(parsed.size).toBe(2);
    const again = await agents.get(agentKey("t1", "same"));
    if (!again) throw new Error("no entry");
    const reparsed = parsed.of(again);
    expect(reparsed).not.toBe(a); // forgotten, parsed again
    expect(reparsed.def?.limits.max_rounds).toBe(1);
  });
});
