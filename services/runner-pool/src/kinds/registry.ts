// The runner kinds of this node: built-in initializers, plus those loaded from RUNNER_PLUGINS
// (modules whose default export is a RunnerKind or a list of them). A node serves `local`
// (unless RUNNER_SERVE_LOCAL=false) and RUNNER_KINDS; a served kind without an initializer of
// its own is a pool label and runs the model loop. At start the node writes each served
// kind's config JSON Schema to KV sy_runner_kinds, where the gateway and the spawner check
// executor configs against it.
import path from "node:path";
import { pathToFileURL } from "node:url";
import { type RunnerKindRecord, Slug } from "@switchyard/contracts";
import type { KV, Logger } from "@switchyard/runtime";
import { z } from "zod";
import type { RunnerKind } from "./kind.ts";
import { localKind, modelLoopKind } from "./local.ts";

export type AnyRunnerKind = RunnerKind<unknown>;

/** Loads plugin modules; each default export is one kind or an array of kinds. */
export async function loadPlugins(specs: readonly string[], cwd = process.cwd()): Promise<AnyRunnerKind[]> {
  const kinds: AnyRunnerKind[] = [];
  for (const spec of specs) {
    const isFile = spec.startsWith(".") || path.isAbsolute(spec) || /\.[cm]?[jt]s$/.test(spec);
    const url = isFile ? pathToFileURL(path.resolve(cwd, spec)).href : spec;
    const mod = (await import(url)) as { default?: unknown };
    const exported = Array.isArray(mod.default) ? mod.default : [mod.default];
    for (const k of exported) {
      if (!isRunnerKind(k)) throw new Error(`RUNNER_PLUGINS: ${spec} must default-export a runner kind {kind, description, configSchema, run}`);
      kinds.push(k);
    }
  }
  return kinds;
}

function isRunnerKind(k: unknown): k is AnyRunnerKind {
  if (typeof k !== "object" || k === null) return false;
  const r = k as Partial<AnyRunnerKind>;
  return typeof r.kind === "string" && Slug.safeParse(r.kind).success && typeof r.run === "function" && typeof r.configSchema?.safeParse === "function";
}

/**
 * The initializer of every kind this node serves. `available` are the initializers it has
 * (built-ins and plugins; a later one with the same kind wins).
 */
export function resolveServedKinds(
  served: readonly string[],
  available: readonly AnyRunnerKind[],
  poolKind: (kind: string, description: string) => AnyRunnerKind = modelLoopKind,
): Map<string, AnyRunnerKind> {
  const byKind = new Map<string, AnyRunnerKind>([["local", localKind]]);
  for (const k of available) byKind.set(k.kind, k);
  const out = new Map<string, AnyRunnerKind>();
  for (const kind of served) out.set(kind, byKind.get(kind) ?? poolKind(kind, `Pool label '${kind}': the model loop on the nodes that serve it.`));
  return out;
}

export function kindRecord(k: AnyRunnerKind, nodeId: string): RunnerKindRecord {
  return {
    v: 1,
    kind: k.kind,
    description: k.description.slice(0, 2000),
    config_schema: z.toJSONSchema(k.configSchema, { io: "input", unrepresentable: "any" }) as Record<string, unknown>,
    registered_by: nodeId,
    registered_at: new Date().toISOString(),
  };
}

/** Writes each served kind's record; the last node to start a kind sets its schema. */
export async function registerKinds(kv: KV, kinds: Iterable<AnyRunnerKind>, nodeId: string, log: Logger): Promise<void> {
  for (const k of kinds) {
    await kv.put(k.kind, JSON.stringify(kindRecord(k, nodeId)));
    log.debug({ kind: k.kind }, "runner kind registered");
  }
}
