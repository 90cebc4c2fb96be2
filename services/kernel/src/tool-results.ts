// Checks an external tool's result against the `returns` JSON Schema its agent declared
// (ajv, compiled once per schema), so a client that answers with the wrong shape gets a 400
// naming the mismatch instead of confusing the model.
import type { ExternalTool } from "@switchyard/contracts";
import { Ajv, type ValidateFunction } from "ajv";

const ajv = new Ajv({ allErrors: true, strict: false });
const compiled = new Map<string, ValidateFunction>();

/** `{path, message}` per mismatch; empty when the result fits (or the tool declares no `returns`). */
export function resultMismatches(tool: ExternalTool, result: unknown): { path: string; message: string }[] {
  if (!tool.returns) return [];
  const key = JSON.stringify(tool.returns);
  let validate = compiled.get(key);
  if (!validate) {
    try {
      validate = ajv.compile(tool.returns);
    } catch (err) {
      return [{ path: "(schema)", message: `the tool's returns schema does not compile: ${(err as Error).message}` }];
    } finally {
      // The compiled function is kept below; ajv's own registry would refuse a second schema
      // with the same $id and grow with every agent edit.
      ajv.removeSchema(tool.returns);
    }
    if (compiled.size >= 256) compiled.clear();
    compiled.set(key, validate);
  }
  if (validate(result)) return [];
  return (validate.errors ?? []).map((e) => ({
    path: `result${e.instancePath.replaceAll("/", ".")}`,
    message: `${e.message ?? "does not match"}${e.params && "additionalProperty" in e.params ? ` ('${String(e.params.additionalProperty)}')` : ""}`,
  }));
}
