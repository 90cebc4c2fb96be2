// Provider failures as the kernel's retry policy needs them (README › Use a real model):
// 429, 5xx, 408, timeouts and connection resets are retryable `model_error`s, with the
// provider's Retry-After as the earliest next attempt; 400, 401, 403, 404 (unknown model) and
// context-too-long are not, and their message says what a person can do about it. Keys and
// URLs with credentials never appear in a message.
import { SwitchyardError } from "@switchyard/contracts";
import { APICallError, RetryError } from "ai";
import type { ProviderConfig } from "./providers.ts";

/** The longest Retry-After honoured; a longer one is capped (the kernel's deadline still applies). */
const MAX_RETRY_AFTER_MS = 15 * 60_000;

/** Milliseconds a response asks to wait (`retry-after-ms`, or `retry-after` in seconds or as an HTTP date), or null. */
export function retryAfterMs(headers: Record<string, string> | undefined, now = Date.now()): number | null {
  if (!headers) return null;
  const get = (name: string) => Object.entries(headers).find(([k]) => k.toLowerCase() === name)?.[1];
  const ms = get("retry-after-ms");
  if (ms !== undefined && /^\d+(\.\d+)?$/.test(ms.trim())) return Math.min(MAX_RETRY_AFTER_MS, Math.ceil(Number(ms)));
  const ra = get("retry-after")?.trim();
  if (!ra) return null;
  if (/^\d+(\.\d+)?$/.test(ra)) return Math.min(MAX_RETRY_AFTER_MS, Math.ceil(Number(ra) * 1000));
  const at = Date.parse(ra);
  return Number.isFinite(at) ? Math.min(MAX_RETRY_AFTER_MS, Math.max(0, at - now)) : null;
}

/** The provider's own words from an error body (`{error: {message}}` or `{message}`), cut short. */
function providerMessage(body: string | undefined): string | null {
  if (!body) return null;
  try {
    const j = JSON.parse(body) as { error?: { message?: unknown } | string; message?: unknown };
    const m = typeof j.error === "string" ? j.error : (j.error?.message ?? j.message);
    if (typeof m === "string" && m) return m.slice(0, 500);
  } catch {
    /* not JSON */
  }
  return body.slice(0, 200);
}

const NETWORK = /ECONNRESET|ECONNREFUSED|ETIMEDOUT|EPIPE|ENOTFOUND|EAI_AGAIN|UND_ERR|socket|terminated|fetch failed|network|timed? ?out/i;
const CONTEXT = /context.{0,20}(length|window)|too (long|many tokens)|maximum.{0,30}tokens|prompt is too long/i;

function chain(err: unknown): unknown[] {
  const out: unknown[] = [];
  for (let e = err, i = 0; e && i < 6; e = (e as { cause?: unknown }).cause, i++) out.push(e);
  return out;
}

/** A provider failure as a `model_error` with `details.provider`, `details.provider_status` and `details.retry_after_ms`. */
export function mapProviderError(err: unknown, provider: ProviderConfig, modelId: string): SwitchyardError {
  if (err instanceof SwitchyardError) return err;
  // The SDK wraps retried calls; with maxRetries 0 the last error is the one that matters.
  const e = RetryError.isInstance(err) ? err.lastError : err;
  const p = provider.name;
  if (APICallError.isInstance(e) && e.statusCode !== undefined) {
    const status = e.statusCode;
    const said = providerMessage(e.responseBody) ?? e.message;
    const details = (extra: Record<string, unknown> = {}) => ({ provider: p, provider_status: status, ...extra });
    if (status === 429 || status === 408 || status === 409 || status >= 500) {
      const wait = retryAfterMs(e.responseHeaders);
      return new SwitchyardError("model_error", `${p} is ${status === 429 ? "rate limiting" : "failing"} (${status}): ${said}`, {
        retryable: true,
        details: details(wait === null ? {} : { retry_after_ms: wait }),
      });
    }
    if (status === 401 || status === 403) {
      return new SwitchyardError("model_error", `${provider.keyVar} was rejected by ${p} (${status}): ${said}`, { retryable: false, details: details() });
    }
    if (status === 404) {
      return new SwitchyardError("model_error", `model '${modelId}' is not known to ${p} (404): ${said}`, { retryable: false, details: details() });
    }
    if (CONTEXT.test(said)) {
      return new SwitchyardError("model_error", `the conversation is too long for ${p}:${modelId} (${status}): ${said}`, {
        retryable: false,
        details: details({ reason: "context_length" }),
      });
    }
    return new SwitchyardError("model_error", `${p} refused the request (${status}): ${said}`, { retryable: false, details: details() });
  }
  const text = chain(e)
    .map((c) => `${(c as { code?: unknown }).code ?? ""} ${(c as Error)?.message ?? String(c)}`)
    .join(" ");
  if (APICallError.isInstance(e) || NETWORK.test(text)) {
    return new SwitchyardError("model_error", `could not reach ${p}: ${(e as Error)?.message ?? String(e)}`, {
      retryable: true,
      details: { provider: p, provider_status: null },
    });
  }
  return new SwitchyardError("model_error", `${p}:${modelId} failed: ${(e as Error)?.message ?? String(e)}`, {
    retryable: false,
    details: { provider: p, provider_status: null },
  });
}
