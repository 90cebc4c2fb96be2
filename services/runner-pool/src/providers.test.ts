import { describe, expect, it } from "vitest";
import { languageModel, loadProviders } from "./providers.ts";

describe("providers from the environment", () => {
  it("reads OpenAI, Anthropic and named OpenAI-compatible providers", () => {
    const p = loadProviders({
      OPENAI_API_KEY: "sk-1",
      ANTHROPIC_API_KEY: "a-1",
      ANTHROPIC_BASE_URL: "http://127.0.0.1:9/v1/",
      PROVIDER_OLLAMA_BASE_URL: "http://127.0.0.1:11434/v1",
      PROVIDER_MY_GATEWAY_BASE_URL: "https://gw.example/v1",
      PROVIDER_MY_GATEWAY_API_KEY: "gk",
      PROVIDER_EMPTY_BASE_URL: "",
    });
    expect([...p.keys()].sort()).toEqual(["anthropic", "my_gateway", "ollama", "openai"]);
    expect(p.get("anthropic")).toMatchObject({ api: "anthropic", baseURL: "http://127.0.0.1:9/v1", keyVar: "ANTHROPIC_API_KEY" });
    expect(p.get("ollama")).toMatchObject({ api: "openai-compatible", keyVar: "PROVIDER_OLLAMA_API_KEY" });
    expect(p.get("ollama")?.apiKey).toBeUndefined();
    expect(p.get("my_gateway")).toMatchObject({ apiKey: "gk" });
    expect(loadProviders({}).size).toBe(0);
  });

  it("refuses a bad URL naming the variable", () => {
    expect(() => loadProviders({ PROVIDER_X_BASE_URL: "file:///etc/passwd" })).toThrow("PROVIDER_X_BASE_URL must be an http(s) URL");
    expect(() => loadProviders({ PROVIDER_OPENAI_BASE_URL: "http://x/v1" })).toThrow("reserved");
  });

  it("names what it has when a model's provider is missing", () => {
    const p = loadProviders({ PROVIDER_OLLAMA_BASE_URL: "http://127.0.0.1:11434/v1" });
    expect(languageModel(p, "ollama:llama3.2").modelId).toBe("llama3.2");
    expect(() => languageModel(p, "openai:gpt-4.1")).toThrow("model 'openai:gpt-4.1' is not available on this runner (providers: scripted, ollama)");
  });
});
