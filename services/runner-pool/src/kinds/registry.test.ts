import path from "node:path";
import { describe, expect, it } from "vitest";
import { kindRecord, loadPlugins, resolveServedKinds } from "./registry.ts";

const REPO = path.resolve(import.meta.dirname, "../../../..");

describe("runner kinds of a node", () => {
  it("loads a plugin's default export and serves it; a served kind without an initializer is a model-loop pool", async () => {
    const plugins = await loadPlugins(["examples/runner-kinds/uppercase.ts"], REPO);
    expect(plugins.map((k) => k.kind)).toEqual(["uppercase"]);
    const served = resolveServedKinds(["local", "uppercase", "gpu"], plugins);
    expect([...served.keys()]).toEqual(["local", "uppercase", "gpu"]);
    expect(served.get("uppercase")).toBe(plugins[0]);
    expect(served.get("gpu")?.description).toMatch(/pool label 'gpu'/i);
  });

  it("refuses a plugin that exports no runner kind", async () => {
    await expect(loadPlugins(["services/runner-pool/src/abortable.ts"], REPO)).rejects.toThrow(/must default-export a runner kind/);
  });

  it("registers the config JSON Schema the gateway checks", async () => {
    const [upper] = await loadPlugins(["examples/runner-kinds/uppercase.ts"], REPO);
    const rec = kindRecord(upper!, "node-1");
    expect(rec).toMatchObject({ v: 1, kind: "uppercase", registered_by: "node-1" });
    expect(rec.config_schema).toMatchObject({ type: "object", additionalProperties: false, properties: { repeat: { type: "integer" } } });
  });
});
