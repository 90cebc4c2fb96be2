import { describe, expect, it } from "vitest";
import { z } from "zod";
import { checkRunnerConfig, type RunnerKindRecord } from "./runner-kinds.ts";

const record = (schema: z.ZodType): RunnerKindRecord => ({
  v: 1,
  kind: "k",
  description: "",
  config_schema: z.toJSONSchema(schema, { io: "input" }) as Record<string, unknown>,
  registered_by: "n",
  registered_at: "2026-01-01T00:00:00Z",
});

describe("checkRunnerConfig", () => {
  const a2aLike = record(z.object({ url: z.url(), headers: z.record(z.string(), z.string()).optional() }).strict());

  it("accepts a config that matches the registered JSON Schema", () => {
    expect(checkRunnerConfig(a2aLike, { url: "http://agent.example/" })).toEqual([]);
    expect(checkRunnerConfig(a2aLike, { url: "http://a/", headers: { authorization: "Bearer x" } })).toEqual([]);
  });

  it("names each wrong field under executor.runner.config", () => {
    expect(checkRunnerConfig(a2aLike, { url: "not a url" })).toEqual([{ path: "executor.runner.config.url", message: expect.any(String) }]);
    expect(checkRunnerConfig(a2aLike, {})).toEqual([{ path: "executor.runner.config.url", message: expect.any(String) }]);
    expect(checkRunnerConfig(a2aLike, { url: "http://a/", headers: { x: 1 } })).toEqual([
      { path: "executor.runner.config.headers.x", message: expect.any(String) },
    ]);
  });

  it("names an unknown field of a strict schema", () => {
    expect(checkRunnerConfig(a2aLike, { url: "http://a/", extra: true }, "config")).toEqual([{ path: "config.extra", message: "unknown field" }]);
  });

  it("accepts anything for a kind whose schema is any object", () => {
    expect(checkRunnerConfig(record(z.record(z.string(), z.unknown())), { deep: { a: [1] } })).toEqual([]);
  });
});
