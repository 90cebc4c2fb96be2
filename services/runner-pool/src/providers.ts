// Model providers of this node (README › Use a real model), configured by the operator through
// the environment only: OPENAI_API_KEY / OPENAI_BASE_URL, ANTHROPIC_API_KEY / ANTHROPIC_BASE_URL,
// and per OpenAI-compatible provider NAME: PROVIDER_<NAME>_BASE_URL (required) and
// PROVIDER_<NAME>_API_KEY (optional), used as model `<name>:<model-id>` with the name in lower
// case. Keys never leave this process: the node publishes provider names only.
import { createAnthropic } from "@ai-sdk/anthropic";
import { createOpenAI } from "@ai-sdk/openai";
import { createOpenAICompatible } from "@ai-sdk/openai-compatible";
import { capabilityKeys, ProviderName, type ProviderRecord, SwitchyardError } from "@switchyard/contracts";
import type { KV } from "@switchyard/runtime";
import type { LanguageModel } from "ai";

export type ProviderApi = "openai" | "anthropic" | "openai-compatible";

export interface ProviderConfig {
  name: string;
  api: ProviderApi;
  baseURL?: string;
  apiKey?: string;
  /** The variable that holds the key (named in errors; its value never is). */
  keyVar: string;
}

const COMPAT = /^PROVIDER_([A-Z][A-Z0-9_]*)_BASE_URL$/;

function url(name: string, value: string): string {
  try {
    const u = new URL(value);
    if (u.protocol !== "http:" && u.protocol !== "https:") throw new Error("not http(s)");
    return value.replace(/\/+$/, "");
  } catch {
    throw new Error(`${name} must be an http(s) URL`);
  }
}

/** Reads the providers from the environment. Throws with the variable's name on a bad value. */
export function loadProviders(env: Record<string, string | undefined>): Map<string, ProviderConfig> {
  const out = new Map<string, ProviderConfig>();
  const set = (v: string | undefined) => (v !== undefined && v.trim() !== "" ? v.trim() : undefined);
  if (set(env.OPENAI_API_KEY) || set(env.OPENAI_BASE_URL)) {
    const baseURL = set(env.OPENAI_BASE_URL);
    out.set("openai", {
      name: "openai",
      api: "openai",
      ...(baseURL ? { baseURL: url("OPENAI_BASE_URL", baseURL) } : {}),
      // The SDK insists on a key; a keyless local gateway gets a placeholder it ignores.
      apiKey: set(env.OPENAI_API_KEY) ?? "unset",
      keyVar: "OPENAI_API_KEY",
    });
  }
  if (set(env.ANTHROPIC_API_KEY) || set(env.ANTHROPIC_BASE_URL)) {
    const baseURL = set(env.ANTHROPIC_BASE_URL);
    out.set("anthropic", {
      name: "anthropic",
      api: "anthropic",
      ...(baseURL ? { baseURL: url("ANTHROPIC_BASE_URL", baseURL) } : {}),
      apiKey: set(env.ANTHROPIC_API_KEY) ?? "unset",
      keyVar: "ANTHROPIC_API_KEY",
    });
  }
  for (const [k, v] of Object.entries(env)) {
    const m = COMPAT.exec(k);
    if (!m || !set(v)) continue;
    const name = (m[1] as string).toLowerCase();
    if (!ProviderName.safeParse(name).success) throw new Error(`${k}: '${name}' is not a valid provider name`);
    if (name === "openai" || name === "anthropic" || name === "scripted") throw new Error(`${k}: '${name}' is reserved; use ${name.toUpperCase()}_BASE_URL`);
    const keyVar = `PROVIDER_${m[1]}_API_KEY`;
    const apiKey = set(env[keyVar]);
    out.set(name, { name, api: "openai-compatible", baseURL: url(k, v as string), ...(apiKey ? { apiKey } : {}), keyVar });
  }
  return out;
}

/**
 * The SDK model for `<provider>:<model-id>`. `openai:` uses the Chat Completions API
 * (`.chat(id)`), which every OpenAI-compatible gateway speaks too. The SDK's `fetch` is ours
 * so tests can count sockets; retries are the kernel's (maxRetries 0 at the call).
 */
export function languageModel(
  providers: ReadonlyMap<string, ProviderConfig>,
  model: string,
): { model: LanguageModel; provider: ProviderConfig; modelId: string } {
  const i = model.indexOf(":");
  const name = i > 0 ? model.slice(0, i) : "";
  const modelId = i > 0 ? model.slice(i + 1) : "";
  const provider = providers.get(name);
  if (!provider || !modelId) {
    const have = ["scripted", ...providers.keys()].join(", ");
    throw new SwitchyardError("model_error", `model '${model}' is not available on this runner (providers: ${have})`, {
      retryable: false,
      details: { provider: name || null },
    });
  }
  const opts = { ...(provider.baseURL ? { baseURL: provider.baseURL } : {}), ...(provider.apiKey ? { apiKey: provider.apiKey } : {}) };
  switch (provider.api) {
    case "openai":
      return { model: createOpenAI(opts).chat(modelId), provider, modelId };
    case "anthropic":
      return { model: createAnthropic(opts)(modelId), provider, modelId };
    default:
      return {
        model: createOpenAICompatible({
          name: provider.name,
          baseURL: provider.baseURL as string,
          includeUsage: true,
          ...(provider.apiKey ? { apiKey: provider.apiKey } : {}),
        })(modelId),
        provider,
        modelId,
      };
  }
}

/** Writes a record per provider (its name and API, nothing else) to KV sy_runner_caps. */
export async function publishProviders(kv: KV, providers: ReadonlyMap<string, ProviderConfig>, nodeId: string): Promise<void> {
  const at = new Date().toISOString();
  for (const p of providers.values()) {
    const record: ProviderRecord = { v: 1, type: "provider", name: p.name, api: p.api, registered_by: nodeId, registered_at: at };
    await kv.put(capabilityKeys.provider(p.name), JSON.stringify(record));
  }
}
