// JSON Schemas written by clients (an external tool's `parameters` and `returns`), compiled so
// that neither a schema nor a value checked against it can hold a service for long: `pattern`
// and `patternProperties` run on RE2 (re2js: linear time, no backtracking; a pattern RE2 cannot
// compile, such as one with lookaround or backreferences, is refused), `format` is not
// evaluated, `uniqueItems` (quadratic on objects) is refused, and a schema is refused above
// MAX_CLIENT_SCHEMA_BYTES or nested deeper than MAX_CLIENT_SCHEMA_DEPTH.
// Exported as `@switchyard/runtime/client-schema`, so only the services that compile schemas load ajv.
import { Ajv, type ValidateFunction } from "ajv";
import { RE2JS } from "re2js";

export type { ValidateFunction };

/** The largest client schema, as JSON. */
export const MAX_CLIENT_SCHEMA_BYTES = 65_536;
/** The deepest nesting of objects and arrays in a client schema. */
export const MAX_CLIENT_SCHEMA_DEPTH = 32;

/** ajv's regex engine: RE2 semantics behind the RegExp `test` ajv calls. */
const re2Engine = Object.assign(
  (pattern: string) => {
    const re = RE2JS.compile(pattern);
    // ajv keys its compiled patterns by toString(): it must differ per pattern.
    return { test: (s: string) => re.test(s), toString: () => `re2:${pattern}` };
  },
  { code: "re2js" },
);

function newAjv(): Ajv {
  return new Ajv({ allErrors: true, strict: false, validateFormats: false, code: { regExp: re2Engine } });
}
let ajv = newAjv();

export type ClientSchemaResult = { ok: true; validate: ValidateFunction } | { ok: false; message: string };

function depthOf(root: unknown): number {
  let max = 0;
  const stack: [unknown, number][] = [[root, 0]];
  for (let item = stack.pop(); item; item = stack.pop()) {
    const [v, d] = item;
    if (v === null || typeof v !== "object") continue;
    max = Math.max(max, d + 1);
    if (max > MAX_CLIENT_SCHEMA_DEPTH) return max;
    for (const c of Array.isArray(v) ? v : Object.values(v)) stack.push([c, d + 1]);
  }
  return max;
}

function usesUniqueItems(root: unknown): boolean {
  const stack: unknown[] = [root];
  while (stack.length) {
    const v = stack.pop();
    if (v === null || typeof v !== "object") continue;
    if (!Array.isArray(v) && (v as Record<string, unknown>).uniqueItems === true) return true;
    for (const c of Array.isArray(v) ? v : Object.values(v)) stack.push(c);
  }
  return false;
}

/** Checks the caps, then compiles. Leaves nothing in ajv's registry (a schema's `$id` may come again). */
export function compileClientSchema(schema: unknown): ClientSchemaResult {
  const bytes = Buffer.byteLength(JSON.stringify(schema) ?? "");
  if (bytes > MAX_CLIENT_SCHEMA_BYTES) return { ok: false, message: `schema is ${bytes} bytes; at most ${MAX_CLIENT_SCHEMA_BYTES}` };
  if (depthOf(schema) > MAX_CLIENT_SCHEMA_DEPTH) return { ok: false, message: `schema nests deeper than ${MAX_CLIENT_SCHEMA_DEPTH} levels` };
  if (usesUniqueItems(schema)) return { ok: false, message: "uniqueItems is not supported in client schemas (its cost grows with the square of the array)" };
  try {
    return { ok: true, validate: ajv.compile(schema as object) };
  } catch (err) {
    const message = (err as Error).message;
    return {
      ok: false,
      message: /RE2JS|regex|pattern/i.test(message) ? `a pattern is not supported (RE2 syntax: no lookaround or backreferences): ${message}` : message,
    };
  } finally {
    try {
      ajv.removeSchema(schema as object);
    } catch {
      ajv = newAjv(); // a registry ajv cannot clean is replaced
    }
  }
}
