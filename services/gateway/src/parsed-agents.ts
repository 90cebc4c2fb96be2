// Agent definitions as a submit reads them. Each submit reads its agent fresh from KV
// (read-your-writes across gateways: a definition just PUT through another gateway counts), but
// parses it only when its bytes differ from the last ones this gateway parsed for that key.
import { AgentDef, Executor } from "@switchyard/contracts";
import type { KV } from "@switchyard/runtime";

type KvEntry = NonNullable<Awaited<ReturnType<KV["get"]>>>;

/** A stored definition: parsed (null when it does not parse) and its own executor, if valid. Shared between requests: never mutated. */
export interface ParsedAgent {
  def: AgentDef | null;
  executor: Executor | undefined;
}

/** Definitions remembered; past this, the least recently parsed is forgotten (and parsed again when next used). */
export const PARSED_AGENTS_MAX = 1024;

/**
 * Parsed definitions by KV key, each with the bytes it was parsed from: equal bytes give an
 * equal parse, so a hit costs a byte comparison instead of a zod pass over the whole
 * definition (ARCHITECTURE.md §7).
 */
export class ParsedAgents {
  readonly #byKey = new Map<string, { value: Uint8Array; parsed: ParsedAgent }>();
  readonly #max: number;

  constructor(max = PARSED_AGENTS_MAX) {
    this.#max = max;
  }

  get size(): number {
    return this.#byKey.size;
  }

  of(entry: KvEntry): ParsedAgent {
    const hit = this.#byKey.get(entry.key);
    if (hit && Buffer.compare(hit.value, entry.value) === 0) return hit.parsed;
    const raw = entry.json();
    const def = AgentDef.safeParse(raw);
    const parsed = { def: def.success ? def.data : null, executor: agentExecutor(raw) };
    this.#byKey.delete(entry.key);
    if (this.#byKey.size >= this.#max) this.#byKey.delete(this.#byKey.keys().next().value as string);
    this.#byKey.set(entry.key, { value: entry.value.slice(), parsed });
    return parsed;
  }
}

/** The agent's default executor as stored in the catalog (the spawner validated it). */
function agentExecutor(def: unknown): Executor | undefined {
  const parsed = Executor.safeParse((def as { executor?: unknown } | null)?.executor);
  return parsed.success ? parsed.data : undefined;
}
