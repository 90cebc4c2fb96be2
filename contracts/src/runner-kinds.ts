// The runner-kind registry (ARCHITECTURE.md §1, §2): a runner kind is an open string; a node that has an
// initializer for a kind registers the kind's config JSON Schema in KV `sy_runner_kinds` at
// start. The gateway (at submit) and the spawner (at agent PUT) validate executor configs
// against it; a kind nobody registered is accepted and waits in the queue.
import { z } from "zod";
import { JsonObject, Slug, Timestamp } from "./common.ts";

/** A registered runner kind (KV `sy_runner_kinds`, key: the kind). Written by runner nodes. */
export const RunnerKindRecord = z.object({
  v: z.literal(1),
  kind: Slug,
  description: z.string().max(2000),
  /** JSON Schema (draft 2020-12) of `executor.runner.config` for this kind. */
  config_schema: JsonObject,
  /** The node that wrote this record last (every node of the kind writes it at start). */
  registered_by: z.string(),
  registered_at: Timestamp,
});
export type RunnerKindRecord = z.infer<typeof RunnerKindRecord>;

/** One line of `GET /v1/runner-kinds`. */
export const RunnerKindInfo = z.object({
  kind: Slug,
  /** Live, non-draining nodes serving the kind now. */
  nodes: z.number().int().min(0),
  /** Free run slots over those nodes (a node serving several kinds counts for each). */
  free_slots: z.number().int().min(0),
  /** Work items dispatched to `sy.work.<kind>` and not yet claimed. */
  queue_depth: z.number().int().min(0),
  /** Whether a node registered the kind's config schema (an unregistered kind accepts any config). */
  registered: z.boolean(),
  description: z.string().optional(),
  config_schema: JsonObject.optional(),
});
export type RunnerKindInfo = z.infer<typeof RunnerKindInfo>;
export const RunnerKindList = z.object({ items: z.array(RunnerKindInfo) });

export interface ConfigIssue {
  path: string;
  message: string;
}

const compiled = new Map<string, z.ZodType>();

/**
 * Validates an executor config against a registered kind's JSON Schema. Returns the issues
 * with paths under `prefix` (e.g. `executor.runner.config.url`), or an empty list.
 */
export function checkRunnerConfig(record: RunnerKindRecord, config: unknown, prefix = "executor.runner.config"): ConfigIssue[] {
  const key = JSON.stringify(record.config_schema);
  let schema = compiled.get(key);
  if (!schema) {
    try {
      schema = z.fromJSONSchema(record.config_schema as Parameters<typeof z.fromJSONSchema>[0]);
    } catch {
      // A schema this zod cannot rebuild is not enforced here; the runner still validates.
      schema = z.unknown();
    }
    if (compiled.size > 256) compiled.clear();
    compiled.set(key, schema);
  }
  const parsed = schema.safeParse(config);
  if (parsed.success) return [];
  return parsed.error.issues.map((i) => {
    const keys = i.code === "unrecognized_keys" ? i.keys : [];
    const path = [prefix, ...i.path.map(String)].join(".");
    if (keys.length === 1) return { path: `${path}.${keys[0]}`, message: "unknown field" };
    // A key the schema's propertyNames refuse (e.g. an env name a `process` node does not allow).
    if (i.code === "invalid_key") return { path, message: "name not allowed by the runner kind's config schema" };
    return { path, message: i.message };
  });
}
