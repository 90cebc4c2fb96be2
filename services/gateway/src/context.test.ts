import type { FastifyRequest } from "fastify";
import { describe, expect, it } from "vitest";
import { tenantResolver } from "./context.ts";
import { GatewayEnv } from "./env.ts";
import { HttpProblem } from "./http-errors.ts";

const env = (vars: Record<string, string> = {}) => GatewayEnv.parse(vars);
const request = (authorization?: string) => ({ headers: authorization === undefined ? {} : { authorization } }) as unknown as FastifyRequest;

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
  throw new Error("expected the resolver to throw");
}

describe("tenantResolver", () => {
  it("without API_KEYS puts every request in the default tenant", () => {
    const resolve = tenantResolver(env());
    expect(resolve(request())).toBe("default");
    expect(resolve(request("Bearer whatever"))).toBe("default");
    expect(tenantResolver(env({ DEFAULT_TENANT: "solo" }))(request())).toBe("solo");
  });

  it("treats API_KEYS of only separators and spaces as empty", () => {
    expect(tenantResolver(env({ API_KEYS: " , ,, " }))(request())).toBe("default");
  });

  describe('with API_KEYS "tok1:acme,tok2:beta"', () => {
    const resolve = tenantResolver(env({ API_KEYS: "tok1:acme, tok2:beta" }));

    it("maps each bearer token to its tenant", () => {
      expect(resolve(request("Bearer tok1"))).toBe("acme");
      expect(resolve(request("Bearer tok2"))).toBe("beta");
      expect(resolve(request("Bearer  tok1 "))).toBe("acme");
      expect(resolve(request("bearer tok1"))).toBe("acme");
    });

    it.each([
      ["no Authorization header", undefined],
      ["an unknown token", "Bearer tok3"],
      ["an empty bearer", "Bearer "],
      ["a tenant name instead of a token", "Bearer acme"],
      ["another scheme", "Basic dG9rMTphY21l"],
      ["a bare token", "tok1"],
    ])("refuses %s with 401 unauthorized", (_what, header) => {
      const p = unauthorized(() => resolve(request(header)));
      expect(p.message).toBe("missing or unknown bearer token");
    });
  });

  it("splits each entry at its last colon, so tokens may contain colons", () => {
    expect(tenantResolver(env({ API_KEYS: "a:b:c:acme" }))(request("Bearer a:b:c"))).toBe("acme");
  });

  it.each(["tok1", "tok1:acme,broken", ":acme"])("throws at construction on malformed API_KEYS %j", (keys) => {
    expect(() => tenantResolver(env({ API_KEYS: keys }))).toThrow("API_KEYS: each entry must be token:tenant");
  });

  // Known bug: the tenant part is not checked at construction. "tok1:" yields a key that can
  // never authenticate, and "tok1:Acme Corp" yields a tenant that is not a slug, so building
  // its subjects (sy.events.<tenant>...) throws later, per request. Remove `.fails` once fixed.
  it.each(["tok1:", "tok1:Acme Corp", "tok1:a.b"])("throws at construction on an invalid tenant %j", (keys) => {
    expect(() => tenantResolver(env({ API_KEYS: keys }))).toThrow();
  });
});
