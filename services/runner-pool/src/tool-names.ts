// Tool names as providers accept them. OpenAI (and most gateways) allow function names matching
// ^[a-zA-Z0-9_-]{1,64}$; ours are dotted (`payments.charge`, MCP `server.tool`) and may be
// longer. The mapping is built from the whole set of names a request can mention, so it is
// reversible and collision-free: a name that is already safe stays as it is; any other becomes
// its safe spelling (`.` and other characters → `_`), and when that spelling is taken or too
// long, it is cut and gets a short hash of the original name.
import { createHash } from "node:crypto";

export const SAFE_TOOL_NAME = /^[a-zA-Z0-9_-]{1,64}$/;
const MAX = 64;

export interface ToolNameMap {
  toSafe(name: string): string;
  /** Our name for a name the provider sent back, or null when it is no tool of this request. */
  fromSafe(safe: string): string | null;
}

function hash(name: string, salt: number): string {
  return createHash("sha256")
    .update(`${salt}:${name}`)
    .digest("base64url")
    .replace(/[^a-zA-Z0-9]/g, "")
    .slice(0, 8);
}

export function buildToolNameMap(names: Iterable<string>): ToolNameMap {
  const unique = [...new Set(names)].sort();
  const toSafe = new Map<string, string>();
  const fromSafe = new Map<string, string>();
  // Safe names first: they keep their spelling, and nothing else may take it.
  for (const n of unique) {
    if (SAFE_TOOL_NAME.test(n)) {
      toSafe.set(n, n);
      fromSafe.set(n, n);
    }
  }
  for (const n of unique) {
    if (toSafe.has(n)) continue;
    const plain = n.replace(/[^a-zA-Z0-9_-]/g, "_") || "tool";
    let candidate = plain.length <= MAX ? plain : "";
    for (let salt = 0; !candidate || fromSafe.has(candidate); salt++) candidate = `${plain.slice(0, MAX - 9)}_${hash(n, salt)}`;
    toSafe.set(n, candidate);
    fromSafe.set(candidate, n);
  }
  return {
    toSafe: (name) => {
      const s = toSafe.get(name);
      if (s === undefined) throw new Error(`tool '${name}' is not in this request's tool set`);
      return s;
    },
    fromSafe: (safe) => fromSafe.get(safe) ?? null,
  };
}
