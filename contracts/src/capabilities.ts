// What runner nodes offer besides kinds (ARCHITECTURE.md §1): model providers and MCP servers,
// configured by the operator on each node. A node writes one record per provider and per MCP
// server to KV `sy_runner_caps` at start (key `provider.<name>` / `mcp.<name>`); the spawner
// refuses an agent naming one that no node wrote. Names and tool lists only: never a key, a
// URL or a command.
import { z } from "zod";
import { JsonObject, Timestamp } from "./common.ts";

export const ProviderRecord = z.object({
  v: z.literal(1),
  type: z.literal("provider"),
  name: z.string(),
  /** `openai`, `anthropic` or `openai-compatible`. */
  api: z.enum(["openai", "anthropic", "openai-compatible"]),
  registered_by: z.string(),
  registered_at: Timestamp,
});
export type ProviderRecord = z.infer<typeof ProviderRecord>;

export const McpToolInfo = z.object({
  name: z.string(),
  description: z.string().optional(),
  /** The tool's input JSON Schema, as the server lists it. */
  input_schema: JsonObject,
});
export type McpToolInfo = z.infer<typeof McpToolInfo>;

export const McpServerRecord = z.object({
  v: z.literal(1),
  type: z.literal("mcp"),
  name: z.string(),
  transport: z.enum(["stdio", "http"]),
  tools: z.array(McpToolInfo),
  registered_by: z.string(),
  registered_at: Timestamp,
});
export type McpServerRecord = z.infer<typeof McpServerRecord>;

export const capabilityKeys = {
  provider: (name: string) => `provider.${name}`,
  mcp: (name: string) => `mcp.${name}`,
} as const;
