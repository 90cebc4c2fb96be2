// Who is calling, and may they (docs/SECURITY.md). One onRequest hook authenticates every
// request by its bearer key and checks the one scope its route needs (ROUTE_SCOPES), before the
// body is read or a WebSocket upgraded: 401 without a valid key, 403 naming the missing scope.
// Route handlers only read the principal's tenant.
//
// Keys come from two places: API_KEYS (development: `token:tenant[:scope,…]`, all scopes when none
// are given) and KV `sy_api_keys` (`./switchyard keys create`), which every gateway watches so a
// new or revoked key counts at once. Stored keys are kept as SHA-256 only and compared in
// constant time.
import { createHash, timingSafeEqual } from "node:crypto";
import { isIP } from "node:net";
import { type ApiKeyRecord, ApiKeyRecord as ApiKeyRecordSchema, apiKeyIdOf, apiKeyMatches, hasScope, SCOPES, type Scope, Slug } from "@switchyard/contracts";
import type { KV, Logger } from "@switchyard/runtime";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { GatewayEnv } from "./env.ts";
import { HttpProblem } from "./http-errors.ts";

export interface Principal {
  tenant: string;
  scopes: readonly Scope[];
  /** The stored key's id; null for an API_KEYS key or an open gateway. */
  keyId: string | null;
}

declare module "fastify" {
  interface FastifyRequest {
    principal?: Principal;
  }
}

/** What a route needs: a scope, nothing (`public`), or `admin` / METRICS_TOKEN (`metrics`). */
export type RouteAccess = Scope | "public" | "metrics";

/**
 * The scope of every route, by `METHOD pattern`. A route missing here fails the gateway at
 * start (see `authHook`), so no route is ever served unchecked.
 */
export const ROUTE_SCOPES: Readonly<Record<string, RouteAccess>> = {
  "GET /healthz": "public",
  "GET /readyz": "public",
  "GET /metrics": "metrics",
  "POST /v1/tasks": "tasks:write",
  "GET /v1/tasks": "tasks:read",
  "GET /v1/tasks/:id": "tasks:read",
  "GET /v1/tasks/:id/events": "tasks:read",
  "POST /v1/tasks/:id/cancel": "tasks:write",
  "POST /v1/tasks/:id/approvals": "approvals:write",
  // The client that runs an external tool is the one that submitted the task.
  "POST /v1/tasks/:id/tool-results": "tasks:write",
  "GET /v1/agents": "agents:read",
  "GET /v1/agents/:name": "agents:read",
  "PUT /v1/agents/:name": "agents:write",
  "DELETE /v1/agents/:name": "agents:write",
  // Node ids, hosts and load are the fleet operator's business.
  "GET /v1/runners": "admin",
  // Kinds and their config schemas are what a client needs to write an executor.
  "GET /v1/runner-kinds": "agents:read",
  "GET /v1/operators": "agents:read",
  // An operator answers agents' turns: it acts for the tenant's agents.
  "GET /v1/operators/:id/connect": "agents:write",
  // Every agent over A2A: the card shows what the catalog shows; a message submits or answers a task
  // (the /v1 calls it makes are checked again with the caller's key).
  "GET /a2a/:agent/.well-known/agent-card.json": "agents:read",
  "POST /a2a/:agent": "tasks:write",
  // The dashboard's static files and the API's description hold no data; the page's calls carry the key.
  "GET /ui": "public",
  "GET /ui/": "public",
  "GET /ui/*": "public",
  "GET /openapi.json": "public",
  "GET /docs": "public",
  "GET /docs/": "public",
  "GET /docs/json": "public",
  "GET /docs/yaml": "public",
  "GET /docs/static/index.html": "public",
  "GET /docs/static/swagger-initializer.js": "public",
  "GET /docs/static/": "public",
  "GET /docs/static/*": "public",
};

/** `token:tenant[:scope,…]` entries; a piece that is only a scope continues the entry before it. */
export function parseDevKeys(raw: string): Map<string, Principal> {
  const keys = new Map<string, Principal>();
  let last: Principal | undefined;
  const scopePattern = SCOPES.join("|");
  const entry = new RegExp(`^(.+?):([^:]+)(?::(${scopePattern}))?$`);
  for (const piece of raw
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)) {
    if ((SCOPES as readonly string[]).includes(piece)) {
      if (!last) throw new Error(`API_KEYS: scope ${JSON.stringify(piece)} has no key before it`);
      (last.scopes as Scope[]).push(piece as Scope);
      continue;
    }
    const m = entry.exec(piece);
    if (!m) throw new Error("API_KEYS: each entry must be token:tenant or token:tenant:scope,scope,…");
    const [, token, tenant, scope] = m as unknown as [string, string, string, string | undefined];
    if (!Slug.safeParse(tenant).success) throw new Error(`API_KEYS: tenant ${JSON.stringify(tenant)} must be a slug ([a-z0-9][a-z0-9_-]*)`);
    last = { tenant, scopes: scope ? [scope as Scope] : [], keyId: null };
    keys.set(hashToken(token), last);
  }
  for (const p of keys.values()) if (p.scopes.length === 0) (p.scopes as Scope[]).push(...SCOPES);
  return keys;
}

function hashToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

/** Loopback interfaces: the only ones a gateway may listen on without keys (unless AUTH=none). */
export function isLoopbackHost(host: string): boolean {
  if (host === "localhost") return true;
  if (isIP(host) === 4) return host.startsWith("127.");
  return host === "::1";
}

/**
 * Every key this gateway accepts: API_KEYS, plus the stored keys of KV `sy_api_keys`, kept in
 * memory and updated by a watch. Auth is required once any key is known (or AUTH=keys), and stays
 * required for the life of the process: revoking the last key never opens the gateway.
 */
export class KeyStore {
  readonly #env: GatewayEnv;
  readonly #dev: Map<string, Principal>;
  readonly #stored = new Map<string, ApiKeyRecord>();
  #required: boolean;
  #stop: (() => void) | undefined;

  constructor(env: GatewayEnv) {
    this.#env = env;
    this.#dev = parseDevKeys(env.API_KEYS);
    this.#required = env.AUTH === "keys" || this.#dev.size > 0;
  }

  get required(): boolean {
    return this.#required;
  }

  get size(): number {
    return this.#dev.size + this.#stored.size;
  }

  /** Loads every stored key, then follows the bucket. Resolves once the initial keys are in. */
  async watch(kv: KV, log: Logger): Promise<void> {
    const apply = (key: string, op: string, value: () => unknown) => {
      if (op !== "PUT") {
        this.#stored.delete(key);
        return;
      }
      const parsed = ApiKeyRecordSchema.safeParse(value());
      if (!parsed.success || parsed.data.id !== key) {
        log.warn({ key }, "ignoring a malformed API key record");
        return;
      }
      this.#stored.set(key, parsed.data);
      if (this.#env.AUTH !== "none") this.#required = true;
    };
    for await (const key of await kv.keys()) {
      const e = await kv.get(key);
      if (e) apply(key, e.operation, () => e.json());
    }
    const watcher = await kv.watch();
    this.#stop = () => watcher.stop();
    void (async () => {
      for await (const e of watcher) apply(e.key, e.operation, () => e.json());
    })().catch((err: unknown) => log.error({ err: (err as Error).message }, "API key watch ended"));
  }

  close(): void {
    this.#stop?.();
  }

  /** The principal of a bearer token, or 401. An open gateway (no keys, AUTH not required) answers DEFAULT_TENANT with every scope. */
  authenticate(token: string | undefined): Principal {
    if (this.#env.AUTH === "none" || !this.#required) return { tenant: this.#env.DEFAULT_TENANT, scopes: SCOPES, keyId: null };
    if (token) {
      const id = apiKeyIdOf(token);
      const record = id ? this.#stored.get(id) : undefined;
      if (record && apiKeyMatches(record, token)) return { tenant: record.tenant, scopes: record.scopes, keyId: record.id };
      // A map lookup by the token's hash: finding it reveals nothing about other keys.
      const dev = this.#dev.get(hashToken(token));
      if (dev) return dev;
    }
    throw new HttpProblem("unauthorized", "missing or unknown bearer token");
  }
}

/** The bearer token of a request; a WebSocket may send it as ?access_token= (browsers cannot set headers). */
export function bearerToken(req: FastifyRequest): string | undefined {
  const auth = req.headers.authorization;
  if (auth !== undefined) return /^bearer /i.test(auth) ? auth.slice(7).trim() || undefined : undefined;
  if (req.headers.upgrade?.toLowerCase() === "websocket") {
    const token = (req.query as { access_token?: unknown } | undefined)?.access_token;
    if (typeof token === "string" && token) return token;
  }
  return undefined;
}

/** `GET /v1/tasks/:id` for a request (HEAD counts as GET), or undefined when no route matched. */
export function routeKey(req: FastifyRequest): string | undefined {
  let url: string | undefined;
  try {
    url = req.routeOptions.url;
  } catch {
    return undefined;
  }
  if (!url) return undefined;
  return `${req.method === "HEAD" ? "GET" : req.method} ${url}`;
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(hashToken(a), "hex");
  const y = Buffer.from(hashToken(b), "hex");
  return timingSafeEqual(x, y);
}

/**
 * Registers the check on every route. Must be called before the routes are added: a route
 * without an entry in ROUTE_SCOPES then throws at registration, so the gateway does not start.
 */
export function authHook(app: FastifyInstance, store: KeyStore, env: GatewayEnv): void {
  app.addHook("onRoute", (route) => {
    for (const method of [route.method].flat()) {
      if (method === "HEAD" || method === "OPTIONS") continue;
      const key = `${method} ${route.url}`;
      if (!Object.hasOwn(ROUTE_SCOPES, key)) throw new Error(`route ${key} has no scope in ROUTE_SCOPES (services/gateway/src/auth.ts)`);
    }
  });
  // Synchronous, in fastify's callback style: no promise and no microtask hop per request. A
  // throw here reaches the error handler exactly as a rejected async hook's error would.
  app.addHook("onRequest", (req, _reply, done) => {
    const principal = check(req, store, env);
    if (principal) req.principal = principal;
    done();
  });
}

/** The principal a request's route needs, undefined for a public or unrouted one; throws 401/403. */
function check(req: FastifyRequest, store: KeyStore, env: GatewayEnv): Principal | undefined {
  const key = routeKey(req);
  if (key === undefined) return undefined; // no route: the 404 handler answers, revealing nothing
  const access = ROUTE_SCOPES[key];
  if (access === undefined || access === "public") return undefined;
  const token = bearerToken(req);
  if (access === "metrics" && env.METRICS_TOKEN && token && sameSecret(token, env.METRICS_TOKEN)) return undefined;
  const principal = store.authenticate(token);
  const needed: Scope = access === "metrics" ? "admin" : access;
  if (!hasScope(principal.scopes, needed)) {
    throw new HttpProblem("forbidden", `this key lacks the scope '${needed}'`, { missing_scope: needed });
  }
  return principal;
}

/** The caller's tenant, as the auth hook established it. */
export function tenantOfRequest(req: FastifyRequest): string {
  if (!req.principal) throw new HttpProblem("unauthorized", "missing or unknown bearer token");
  return req.principal.tenant;
}
