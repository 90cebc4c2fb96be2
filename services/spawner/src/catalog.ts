// The agent catalog in KV `sy_agents`: validated definitions keyed by name.

import {
  AgentDef,
  type AgentSource,
  agentKey,
  capabilityKeys,
  checkRunnerConfig,
  describeZodIssues,
  McpServerRecord,
  modelProvider,
  type OperatorRecord,
  parseMcpSelection,
  SwitchyardError,
  subjects,
} from "@switchyard/contracts";
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
  readonly #caps: KV | undefined;
  /**
   * `runnerKinds`: when given, a remote default executor's config is checked against its kind's
   * schema. `operators`: when given, an operator agent's operator must be registered. `caps`
   * (KV sy_runner_caps): when given, the model's provider and the MCP servers and tools must be
   * offered by some runner node.
   */
  constructor(kv: KV, runnerKinds?: KV, operators?: KV, maxPerTenant = DEFAULT_MAX_AGENTS_PER_TENANT, caps?: KV) {
    this.#kv = kv;
    this.#runnerKinds = runnerKinds;
    this.#operators = operators;
    this.#maxPerTenant = maxPerTenant;
    this.#caps = caps;
  }

  /**
   * Validates and stores a definition. The name in the path wins over a missing body name.
   * `tenant` undefined is a shared agent (the agents/ loader). `missingCapabilities: "warn"`
   * (the loader at start, when runner nodes may not be up yet) stores an agent whose provider or
   * MCP servers no node offers and returns why; the API refuses it with 400.
   */
  async put(name: string, raw: unknown, tenant?: string, opts: { missingCapabilities?: "refuse" | "warn" } = {}): Promise<AgentDef & { warnings?: string[] }> {
    const def = validateAgentDef(name, raw);
    await this.#checkExecutorConfig(def);
    await this.#checkOperator(def, tenant);
    const missing = await this.#checkCapabilities(def);
    if (missing.length > 0 && opts.missingCapabilities !== "warn") {
      throw new SwitchyardError("invalid_agent", `invalid agent definition: ${missing.map((i) => `${i.path}: ${i.message}`).join("; ")}`, { details: missing });
    }
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
    return missing.length > 0 ? { ...def, warnings: missing.map((i) => `${i.path}: ${i.message}`) } : def;
  }

  /** The model's provider and every MCP selection must be offered by a runner node (KV sy_runner_caps). */
  async #checkCapabilities(def: AgentDef): Promise<{ path: string; message: string }[]> {
    const caps = this.#caps;
    if (!caps) return [];
    const issues: { path: string; message: string }[] = [];
    const provider = def.model ? modelProvider(def.model) : null;
    if (provider) {
      const e = await caps.get(capabilityKeys.provider(provider));
      if (e?.operation !== "PUT") {
        issues.push({
          path: "model",
          message: `no runner node has provider '${provider}' (configure it on a runner node: ${provider === "openai" || provider === "anthropic" ? `${provider.toUpperCase()}_API_KEY` : `PROVIDER_${provider.toUpperCase()}_BASE_URL`})`,
        });
      }
    }
    for (const [i, sel] of def.mcp.entries()) {
      const { server, tool } = parseMcpSelection(sel);
      const e = await caps.get(capabilityKeys.mcp(server));
      const rec = e?.operation === "PUT" ? McpServerRecord.safeParse(e.json()) : null;
      if (!rec?.success) {
        issues.push({ path: `mcp.${i}`, message: `no runner node has MCP server '${server}' (configure it in MCP_SERVERS on a runner node)` });
      } else if (tool !== null && !rec.data.tools.some((t) => t.name === tool)) {
        issues.push({
          path: `mcp.${i}`,
          message: `MCP server '${server}' has no tool '${tool}' (it has: ${rec.data.tools.map((t) => t.name).join(", ") || "none"})`,
        });
      }
    }
    return issues;
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
    return (await this.getWithSource(name, tenant))?.def ?? null;
  }

  /** Like `get`, with the KV key and revision the definition was read from (a plan cache's key). */
  async getWithSource(name: string, tenant?: string): Promise<{ def: AgentDef; source: AgentSource } | null> {
    const keys = tenant !== undefined ? [agentKey(tenant, name), agentKey(undefined, name)] : [agentKey(undefined, name)];
    for (const key of keys) {
      const entry = await this.#kv.get(key);
      if (entry?.operation === "PUT") return { def: AgentDef.parse(entry.json()), source: { key, revision: entry.revision } };
    }
    return null;
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
