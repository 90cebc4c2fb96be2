import { SwitchyardError } from "@switchyard/contracts";
import { APICallError } from "ai";
import { describe, expect, it } from "vitest";
import { mapProviderError, retryAfterMs } from "./model-errors.ts";
import type { ProviderConfig } from "./providers.ts";

const openai: ProviderConfig = { name: "openai", api: "openai", apiKey: "sk-secret-value", keyVar: "OPENAI_API_KEY" };
const apiError = (statusCode: number | undefined, body: unknown, headers: Record<string, string> = {}, cause?: unknown) =>
  new APICallError({
    message: "failed",
    url: "https://api.example/v1/chat/completions",
    requestBodyValues: {},
    ...(statusCode === undefined ? {} : { statusCode }),
    responseHeaders: headers,
    responseBody: typeof body === "string" ? body : JSON.stringify(body),
    cause,
  });

describe("provider error mapping", () => {
  it("401 and 403 name the variable and are not retried; the key never appears", () => {
    for (const status of [401, 403]) {
      const e = mapProviderError(apiError(status, { error: { message: "Incorrect API key provided" } }), openai, "gpt-x").toWire();
      expect(e).toMatchObject({ code: "model_error", retryable: false, details: { provider: "openai", provider_status: status } });
      expect(e.message).toBe(`OPENAI_API_KEY was rejected by openai (${status}): Incorrect API key provided`);
      expect(JSON.stringify(e)).not.toContain("sk-secret-value");
    }
  });

  it("429 and 5xx are retryable, with Retry-After as details.retry_after_ms", () => {
    const e = mapProviderError(apiError(429, { error: { message: "Rate limit" } }, { "Retry-After": "2" }), openai, "m").toWire();
    expect(e).toMatchObject({ retryable: true, details: { provider_status: 429, retry_after_ms: 2000 } });
    expect(mapProviderError(apiError(503, "upstream down"), openai, "m").toWire()).toMatchObject({ retryable: true, details: { provider_status: 503 } });
    expect(mapProviderError(apiError(500, "x", { "retry-after-ms": "1500" }), openai, "m").toWire().details).toMatchObject({ retry_after_ms: 1500 });
  });

  it("unknown model, context too long and other 400s are not retried and say what is wrong", () => {
    const nf = mapProviderError(apiError(404, { error: { message: "The model `gpt-x` does not exist" } }), openai, "gpt-x").toWire();
    expect(nf).toMatchObject({ retryable: false, details: { provider_status: 404 } });
    expect(nf.message).toContain("model 'gpt-x' is not known to openai (404)");
    const ctx = mapProviderError(apiError(400, { error: { message: "This model's maximum context length is 128000 tokens" } }), openai, "m").toWire();
    expect(ctx).toMatchObject({ retryable: false, details: { reason: "context_length", provider_status: 400 } });
    const bad = mapProviderError(apiError(400, { error: { message: "Invalid 'temperature'" } }), openai, "m").toWire();
    expect(bad).toMatchObject({ retryable: false, message: "openai refused the request (400): Invalid 'temperature'" });
  });

  it("connection resets and timeouts are retryable", () => {
    const reset = Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" });
    expect(mapProviderError(new TypeError("fetch failed", { cause: reset }), openai, "m").toWire()).toMatchObject({ retryable: true });
    expect(mapProviderError(apiError(undefined, "", {}, reset), openai, "m").toWire()).toMatchObject({ retryable: true });
    expect(mapProviderError(new Error("something else"), openai, "m").retryable).toBe(false);
    const own = new SwitchyardError("model_error", "mine", { retryable: true });
    expect(mapProviderError(own, openai, "m")).toBe(own);
  });

  it("reads Retry-After as seconds, as a date, and caps it", () => {
    expect(retryAfterMs({ "retry-after": "2" })).toBe(2000);
    expect(retryAfterMs({ "retry-after": new Date(10_000).toUTCString() }, 4000)).toBe(6000);
    expect(retryAfterMs({ "retry-after": "999999" })).toBe(15 * 60_000);
    expect(retryAfterMs({ "retry-after": "soon" })).toBeNull();
    expect(retryAfterMs(undefined)).toBeNull();
  });
});
