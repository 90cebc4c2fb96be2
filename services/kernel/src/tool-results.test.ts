import { describe, expect, it } from "vitest";
import { resultMismatches } from "./tool-results.ts";

const weather = {
  name: "get_weather",
  description: "",
  parameters: { type: "object" },
  external: true as const,
  returns: { type: "object", required: ["temp_c"], properties: { temp_c: { type: "number" } }, additionalProperties: false },
};

describe("resultMismatches", () => {
  it("accepts a result that fits, and anything when no returns schema is declared", () => {
    expect(resultMismatches(weather, { temp_c: 21.5 })).toEqual([]);
    expect(resultMismatches({ ...weather, returns: undefined }, "anything")).toEqual([]);
  });

  it("names each mismatch with its path", () => {
    expect(resultMismatches(weather, { temp_c: "warm" })).toEqual([{ path: "result.temp_c", message: "must be number" }]);
    expect(resultMismatches(weather, { temp: 1 })).toEqual([
      { path: "result", message: "must have required property 'temp_c'" },
      { path: "result", message: "must NOT have additional properties ('temp')" },
    ]);
  });
});
