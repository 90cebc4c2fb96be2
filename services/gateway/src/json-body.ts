// The gateway's one request-body parser: JSON in UTF-8, nested at most MAX_JSON_DEPTH levels,
// without prototype-polluting keys. Hostile bodies become 4xx problems here, before any route
// sees them (a 10 000-level body would otherwise overflow the stack when re-encoded).
import { HttpProblem } from "./http-errors.ts";

/** Deeper than any agent definition, tool argument or metadata needs. */
export const MAX_JSON_DEPTH = 64;

/** Keys that would reach Object.prototype if a consumer ever merged the value naively. */
const FORBIDDEN_KEY = "__proto__";

/** Refuses a declared charset other than UTF-8 (415): the body would be decoded wrongly. */
export function assertUtf8ContentType(contentType: string | undefined): void {
  const charset = /;\s*charset\s*=\s*"?([^";\s]*)/i.exec(contentType ?? "")?.[1]?.toLowerCase();
  if (charset !== undefined && charset !== "utf-8" && charset !== "utf8") {
    throw new HttpProblem("bad_request", `content-type charset must be utf-8, not '${charset.slice(0, 40)}'`, undefined, 415);
  }
}

/** Parses a request body; throws a 400 HttpProblem that says what is wrong with it. */
export function parseJsonBody(text: string): unknown {
  if (text.trim() === "") throw new HttpProblem("bad_request", "request body is empty; send a JSON object");
  const depth = nestingDepth(text);
  if (depth > MAX_JSON_DEPTH) {
    throw new HttpProblem("bad_request", `request body nests deeper than ${MAX_JSON_DEPTH} levels`, [
      { path: "(body)", message: `nested more than ${MAX_JSON_DEPTH} levels deep` },
    ]);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new HttpProblem("bad_request", `request body is not valid JSON: ${(err as Error).message.slice(0, 200)}`);
  }
  const bad = findForbiddenKey(value, "");
  if (bad) {
    bad.path = bad.path.length > 200 ? `${bad.path.slice(0, 200)}…` : bad.path;
    throw new HttpProblem("bad_request", `request body contains the forbidden key '${bad.key}' at ${bad.path}`, [
      { path: bad.path, message: `the key '${bad.key}' is not allowed` },
    ]);
  }
  return value;
}

/** The deepest nesting of `[` and `{` outside strings; linear, no recursion. */
export function nestingDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      depth++;
      if (depth > max) max = depth;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return max;
}

/** `__proto__` anywhere, or `constructor` holding a `prototype` (what secure-json-parse refuses). */
function findForbiddenKey(value: unknown, path: string): { key: string; path: string } | null {
  if (value === null || typeof value !== "object") return null;
  if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) {
      const hit = findForbiddenKey(v, `${path}[${i}]`);
      if (hit) return hit;
    }
    return null;
  }
  for (const [k, v] of Object.entries(value)) {
    const at = path ? `${path}.${k}` : k;
    if (k === FORBIDDEN_KEY) return { key: k, path: at };
    if (k === "constructor" && v !== null && typeof v === "object" && Object.hasOwn(v, "prototype"))
      return { key: "constructor.prototype", path: `${at}.prototype` };
    const hit = findForbiddenKey(v, at);
    if (hit) return hit;
  }
  return null;
}
