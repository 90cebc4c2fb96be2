import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { buildJsonSchemas } from "./json-schemas.ts";

const CHECKED_IN = join(import.meta.dirname, "..", "schemas", "switchyard.schema.json");

describe("schemas/switchyard.schema.json", () => {
  it("matches the zod schemas (run `npm run gen:schemas` after changing contracts)", () => {
    const onDisk: unknown = JSON.parse(readFileSync(CHECKED_IN, "utf8"));
    // Round-trip through JSON so undefined-valued keys compare as the file stores them.
    const fresh: unknown = JSON.parse(JSON.stringify(buildJsonSchemas()));
    expect(onDisk, "contracts/schemas/switchyard.schema.json is stale: run `npm run gen:schemas` and commit the result").toEqual(fresh);
  });

  it("names the documents consumers look up", () => {
    const doc = buildJsonSchemas() as { definitions: Record<string, unknown>; subjects: Record<string, { payload?: unknown }> };
    expect(Object.keys(doc.definitions)).toEqual(expect.arrayContaining(["AgentDef", "TaskRecord", "TaskView", "StoredEvent", "HttpError"]));
    expect(doc.subjects["sy.cmd.submit"]?.payload).toBeTypeOf("object");
  });
});
