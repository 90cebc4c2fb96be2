// Checks an external tool's result against the `returns` JSON Schema its agent declared
// (compiled once per schema on a linear-time regex engine, with size caps: see
// @switchyard/runtime/client-schema), so a client that answers with the wrong shape gets a 400
// naming the mismatch instead of confusing the model, and no schema can stall the kernel.
import type { ExternalTool } from "@switchyard/contracts";
import { compileClientSchema, type ValidateFunction } from "@switchyard/runtime/client-schema";
import { LRUCache } from "lru-cache";

const compiled = new LRUCache<string, ValidateFunction | string>({ max: 256 });

/** `{path, message}` per mismatch; empty when the result fits (or the tool declares no `returns`). */
export function resultMismatches(tool: ExternalTool, result: unknown): { path: string; message: string }[] {
  if (!tool.returns) return [];
  const key = JSON.stringify(tool.returns);
  let validate = compiled.get(key);
  if (validate === undefined) {
    const c = compileClientSchema(tool.returns);
    validate = c.ok ? c.validate : c.message;
    compiled.set(key, validate);
  }
  // A schema refused here was stored before schemas were checked: nothing fits it.
  if (typeof validate === "string") return [{ path: "(schema)", message: `the tool's returns schema is not usable: ${validate}` }];
  if (validate(result)) return [];
  return (validate.errors ?? []).map((e) => ({
    path: `result${e.instancePath.replaceAll("/", ".")}`,
    message: `${e.message ?? "does not match"}${e.params && "additionalProperty" in e.params ? ` ('${String(e.params.additionalProperty)}')` : ""}`,
  }));
}
