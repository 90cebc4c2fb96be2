import { newApiKey, SCOPES } from "@switchyard/contracts";
import type { FastifyRequest } from "fastify";
import { describe, expect, it } from "vitest";
import { bearerToken, isLoopbackHost, KeyStore, parseDevKeys } from "./auth.ts";
import { GatewayEnv } from "./env.ts";
import { HttpProblem } from "./http-errors.ts";

const env = (vars: Record<string, string> = {}) => GatewayEnv.parse(vars);
const request = (authorization?: string) => ({ headers: authorization === undefined ? {} : { authorization } }) as unknown as FastifyRequest;
const authenticate = (store: KeyStore, header?: string) => store.authenticate(bearerToken(request(header)));

function unauthorized(fn: () => unknown): HttpProblem {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(HttpProblem);
    const p = err as HttpProblem;
    expect(p.code).toBe("unauthorized");
    expect(p.status).toBe(401);
    return p;
  }
  throw new Error("expected authenticate to throw");
}

describe("KeyStore with API_KEYS", () => {
  it("without keys puts every request in the default tenant, with every scope", () => {
    const store = new KeyStore(env());
    expect(store.required).toBe(false);
    expect(authenticate(store)).toMatchObject({ tenant: "default", scopes: SCOPES });
    expect(authenticate(store, "Bearer whatever").tenant).toBe("default");
    expect(authenticate(new KeyStore(env({ DEFAULT_TENANT: "solo" }))).tenant).toBe("solo");
  });

  it("treats API_KEYS of only separators and spaces as empty", () => {
    expect(authenticate(new KeyStore(env({ API_KEYS: " , ,, " }))).tenant).toBe("default");
  });

  it("AUTH=keys requires a key even when none exists", () => {
    unauthorized(() => authenticate(new KeyStore(env({ AUTH: "keys" }))));
  });

  it("AUTH=none ignores the keys", () => {
    expect(authenticate(new KeyStore(env({ AUTH: "none", API_KEYS: "tok1:acme" }))).tenant).toBe("default");
  });

  describe('"tok1:acme,tok2:beta"', () => {
    const store = new KeyStore(env({ API_KEYS: "tok1:acme, tok2:beta" }));

    it("maps each bearer token to its tenant, with every scope", () => {
      expect(authenticate(store, "Bearer tok1")).toMatchObject({ tenant: "acme", scopes: SCOPES });
      expect(authenticate(store, "Bearer tok2").tenant).toBe("beta");
      expect(authenticate(store, "Bearer  tok1 ").tenant).toBe("acme");
      expect(authenticate(store, "bearer tok1").tenant).toBe("acme");
    });

    it.each([
      ["no Authorization header", undefined],
      ["an unknown token", "Bearer tok3"],
      ["an empty bearer", "Bearer "],
      ["a tenant name instead of a token", "Bearer acme"],
      ["another scheme", "Basic dG9rMTphY21l"],
      ["a bare token", "tok1"],
    ])("refuses %s with 401 unauthorized", (_what, header) => {
      const p = unauthorized(() => authenticate(store, header));
      expect(p.message).toBe("missing or unknown bearer token");
    });
  });

  it("reads scopes after the tenant; a piece that is only a scope continues the entry", () => {
    const keys = parseDevKeys("r:acme:tasks:read,agents:read, w:beta:tasks:write, all:gamma");
    const byTenant = Object.fromEntries([...keys.values()].map((p) => [p.tenant, p.scopes]));
    expect(byTenant).toEqual({ acme: ["tasks:read", "agents:read"], beta: ["tasks:write"], gamma: [...SCOPES] });
  });

  it("finds the tenant after the last colon that is not a scope's, so tokens may contain colons", () => {
    expect(authenticate(new KeyStore(env({ API_KEYS: "a:b:c:acme" })), "Bearer a:b:c").tenant).toBe("acme");
    expect(authenticate(new KeyStore(env({ API_KEYS: "a:b:acme:admin" })), "Bearer a:b")).toMatchObject({ tenant: "acme", scopes: ["admin"] });
  });

  it.each(["tok1", "tasks:read", ":acme"])("throws at construction on malformed API_KEYS %j", (keys) => {
    expect(() => new KeyStore(env({ API_KEYS: keys }))).toThrow(/API_KEYS/);
  });

  it.each(["tok1:", "tok1:Acme Corp", "tok1:a.b"])("throws at construction on an invalid tenant %j", (keys) => {
    expect(() => new KeyStore(env({ API_KEYS: keys }))).toThrow(/API_KEYS/);
  });
});

describe("stored keys", () => {
  it("a new key is 256 random bits, found by its id, and only its hash is stored", () => {
    const { key, record } = newApiKey("acme", ["tasks:read"]);
    expect(key).toMatch(/^sy_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    expect(key).toContain(record.id);
    expect(JSON.stringify(record)).not.toContain(key.slice(20));
  });
});

describe("bearerToken", () => {
  it("takes ?access_token= only on a WebSocket upgrade without an Authorization header", () => {
    const ws = (headers: Record<string, string>) => ({ headers, query: { access_token: "t" } }) as unknown as FastifyRequest;
    expect(bearerToken(ws({ upgrade: "websocket" }))).toBe("t");
    expect(bearerToken(ws({}))).toBeUndefined();
    expect(bearerToken(ws({ upgrade: "websocket", authorization: "Bearer h" }))).toBe("h");
  });
});

describe("isLoopbackHost", () => {
  it.each([
    ["127.0.0.1", true],
    ["127.1.2.3", true],
    ["::1", true],
    ["localhost", true],
    ["0.0.0.0", false],
    ["::", false],
    ["10.0.0.5", false],
    ["example.com", false],
  ])("%s → %s", (host, loopback) => expect(isLoopbackHost(host)).toBe(loopback));
});
