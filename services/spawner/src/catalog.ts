// The agent catalog in KV `sy_agents`: validated definitions keyed by name.

import { AgentDef, checkRunnerConfig, describeZodIssues, SwitchyardError, subjects } from "@switchyard/contracts";
import { type KV, readRunnerKind } from "@switchyard/runtime";
import { compileClientSchema } from "@switchyard/runtime/client-schema";

export class AgentCatalog {
  readonly #kv: KV;
  readonly #runnerKinds: KV | undefined;
  readonly #operators: KV | undefined;
  /**
   * `runnerKinds`: when given, a remote default executor's config is checked against its kind's
   * schema. `operators`: when given, an operator agent's operator must be registered.
   */
  constructor(kv: KV, runnerKinds?: KV, operators?: KV) {
    this.#kv = kv;
    this.#runnerKinds = runnerKinds;
    this.#operators = operators;
  }

  /** Validates and stores a definition. The name in the path wins over a missing body name. */
  async put(name: string, raw: unknown): Promise<AgentDef> {
    const def = validateAgentDef(name, raw);
    await this.#checkExecutorConfig(def);
    await this.#checkOperator(def);
    await this.#kv.put(name, JSON.stringify(def));
    return def;
  }

  /** A kind nobody registered accepts any config (its tasks wait for a node); a registered one is checked. */
  async #checkExecutorConfig(def: AgentDef): Promise<void> {
    if (def.executor.type !== "remote" || !this.#runnerKinds) return;
    const record = await readRunnerKind(this.#runnerKinds, def.executor.runner.kind);
    if (!record) return;
    const issues = checkRunnerConfig(record, def.executor.runner.config);
    if (issues.length === 0) return;
    throw new SwitchyardError(
      "invalid_agent",
      `invalid agent definition: ${issues.map((i) => `${i.path}: ${i.message}`).join("; ")} (runner kind '${record.kind}')`,
      { details: issues },
    );
  }

  /** An operator agent names an operator that is registered now. */
  async #checkOperator(def: AgentDef): Promise<void> {
    if (def.kind !== "operator" || !this.#operators || !def.operator_ref) return;
    const entry = await this.#operators.get(def.operator_ref);
    if (entry?.operation === "PUT") return;
    throw new SwitchyardError(
      "invalid_agent",
      `invalid agent definition: operator_ref: no operator '${def.operator_ref}' is registered (connect it over the WebSocket /v1/operators/${def.operator_ref}/connect or register it on ${subjects.operatorRegister} first)`,
      { details: [{ path: "operator_ref", message: `no operator '${def.operator_ref}' is registered` }] },
    );
  }

  async get(name: string): Promise<AgentDef | null> {
    const entry = await this.#kv.get(name);
    if (entry?.operation !== "PUT") return null;
    return AgentDef.parse(entry.json());
  }

  async list(): Promise<AgentDef[]> {
    const names: string[] = [];
    for await (const k of await this.#kv.keys()) names.push(k);
    names.sort();
    const defs = await Promise.all(names.map((n) => this.get(n)));
    return defs.filter((d): d is AgentDef => d !== null);
  }

  async delete(name: string): Promise<boolean> {
    const existing = await this.get(name);
    if (!existing) return false;
    await this.#kv.delete(name);
    return true;
  }
}

export function validateAgentDef(name: string, raw: unknown): AgentDef {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    throw new SwitchyardError("invalid_agent", "agent definition must be a JSON object");
  }
  const body = raw as Record<string, unknown>;
  if (body.name !== undefined && body.name !== name) {
    throw new SwitchyardError("invalid_agent", `name in body (${JSON.stringify(body.name)}) differs from name in path (${name})`, {
      details: [{ path: "name", message: "must match the name in the path" }],
    });
  }
  const parsed = AgentDef.safeParse({ ...body, name });
  if (!parsed.success) {
    const issues = describeZodIssues(parsed.error);
    throw new SwitchyardError("invalid_agent", `invalid agent definition: ${issues.map((i) => `${i.path}: ${i.message}`).join("; ")}`, {
      details: issues,
    });
  }
  const schemaIssues: { path: string; message: string }[] = [];
  for (const [i, tool] of parsed.data.tools.entries()) {
    if (typeof tool === "string") continue;
    for (const field of ["parameters", "returns"] as const) {
      const schema = tool[field];
      if (schema === undefined) continue;
      // Compiled as the kernel will (linear-time patterns, size caps), so a schema it could not
      // use is refused at PUT, not at answer time.
      const compiled = compileClientSchema(schema);
      if (!compiled.ok) schemaIssues.push({ path: `tools.${i}.${field}`, message: `not a usable JSON Schema: ${compiled.message}` });
    }
  }
  if (schemaIssues.length > 0) {
    throw new SwitchyardError("invalid_agent", `invalid agent definition: ${schemaIssues.map((i) => `${i.path}: ${i.message}`).join("; ")}`, {
      details: schemaIssues,
    });
  }
  return parsed.data;
}
