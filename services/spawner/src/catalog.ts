// The agent catalog in KV `sy_agents`: validated definitions keyed by name.

import { AgentDef, agentKey, checkRunnerConfig, describeZodIssues, type OperatorRecord, SwitchyardError, subjects } from "@switchyard/contracts";
import { type KV, readRunnerKind } from "@switchyard/runtime";
import { compileClientSchema } from "@switchyard/runtime/client-schema";

/** Agents a tenant may hold when the spawner is given no limit. */
export const DEFAULT_MAX_AGENTS_PER_TENANT = 1000;

/**
 * Tenancy (docs/SECURITY.md): a tenant reads and runs its own agents and the shared ones (loaded
 * from AGENTS_DIR, `tenant` undefined), and writes and deletes only its own. A tenant's agent of
 * the same name as a shared one shadows it for that tenant alone.
 */
export class AgentCatalog {
  readonly #kv: KV;
  readonly #runnerKinds: KV | undefined;
  readonly #operators: KV | undefined;
  readonly #maxPerTenant: number;
  /**
   * `runnerKinds`: when given, a remote default executor's config is checked against its kind's
   * schema. `operators`: when given, an operator agent's operator must be registered.
   */
  constructor(kv: KV, runnerKinds?: KV, operators?: KV, maxPerTenant = DEFAULT_MAX_AGENTS_PER_TENANT) {
    this.#kv = kv;
    this.#runnerKinds = runnerKinds;
    this.#operators = operators;
    this.#maxPerTenant = maxPerTenant;
  }

  /** Validates and stores a definition. The name in the path wins over a missing body name. */
  async put(name: string, raw: unknown, tenant?: string): Promise<AgentDef> {
    const def = validateAgentDef(name, raw);
    await this.#checkExecutorConfig(def);
    await this.#checkOperator(def, tenant);
    const key = agentKey(tenant, name);
    if (tenant !== undefined && (await this.#kv.get(key))?.operation !== "PUT") {
      const held = (await this.#names(tenant)).length;
      if (held >= this.#maxPerTenant) {
        throw new SwitchyardError("rate_limited", `tenant '${tenant}' has ${held} agents, the most it may hold (MAX_AGENTS_PER_TENANT); delete one first`, {
          details: { quota: "agents", limit: this.#maxPerTenant, used: held },
        });
      }
    }
    await this.#kv.put(key, JSON.stringify(def));
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

  /** An operator agent names an operator that is registered now, by its tenant or by the fleet (over NATS). */
  async #checkOperator(def: AgentDef, tenant: string | undefined): Promise<void> {
    if (def.kind !== "operator" || !this.#operators || !def.operator_ref) return;
    const entry = await this.#operators.get(def.operator_ref);
    const owner = entry?.operation === "PUT" ? (entry.json() as OperatorRecord).tenant : undefined;
    if (entry?.operation === "PUT" && (owner === undefined || owner === tenant)) return;
    throw new SwitchyardError(
      "invalid_agent",
      `invalid agent definition: operator_ref: no operator '${def.operator_ref}' is registered (connect it over the WebSocket /v1/operators/${def.operator_ref}/connect or register it on ${subjects.operatorRegister} first)`,
      { details: [{ path: "operator_ref", message: `no operator '${def.operator_ref}' is registered` }] },
    );
  }

  async #read(key: string): Promise<AgentDef | null> {
    const entry = await this.#kv.get(key);
    if (entry?.operation !== "PUT") return null;
    return AgentDef.parse(entry.json());
  }

  /** The tenant's agent of that name, else the shared one. */
  async get(name: string, tenant?: string): Promise<AgentDef | null> {
    if (tenant !== undefined) {
      const own = await this.#read(agentKey(tenant, name));
      if (own) return own;
    }
    return this.#read(agentKey(undefined, name));
  }

  /** Names stored under one owner (a tenant, or the shared catalog). */
  async #names(tenant: string | undefined): Promise<string[]> {
    const prefix = `${agentKey(tenant, "")}`;
    const names: string[] = [];
    for await (const k of await this.#kv.keys(`${prefix}*`)) names.push(k.slice(prefix.length));
    return names;
  }

  /** The tenant's agents and the shared ones it does not shadow, by name. */
  async list(tenant?: string): Promise<AgentDef[]> {
    const own = tenant === undefined ? [] : await this.#names(tenant);
    const shared = (await this.#names(undefined)).filter((n) => !own.includes(n));
    const defs = await Promise.all([...own.map((n) => this.#read(agentKey(tenant, n))), ...shared.map((n) => this.#read(agentKey(undefined, n)))]);
    return defs.filter((d): d is AgentDef => d !== null).sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Deletes the tenant's own agent; a shared one is read-only (403), another tenant's does not exist. */
  async delete(name: string, tenant?: string): Promise<boolean> {
    const key = agentKey(tenant, name);
    if (!(await this.#read(key))) {
      if (tenant !== undefined && (await this.#read(agentKey(undefined, name)))) {
        throw new SwitchyardError("forbidden", `agent '${name}' is shared (loaded from AGENTS_DIR) and read-only`);
      }
      return false;
    }
    await this.#kv.delete(key);
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
