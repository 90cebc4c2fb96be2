// MCP tool servers of this node (README › Give an agent tools with MCP), configured by the
// operator in MCP_SERVERS (a JSON file `{"mcpServers": {"<name>": {command, args?, env?, cwd?} |
// {url, headers?}}}`), never by a client. Lifetime: one connection per server per node, shared by
// every run on the node. A stdio server runs under mcp-stdio-guard.mjs in a process group of its
// own, so it dies with the runner (SIGTERM, or SIGKILL: the guard sees its parent go); a server
// that exits or drops its connection is reconnected with a backoff (0.5 s doubling to 10 s).
// A starting node waits up to MCP_START_TIMEOUT_MS for its servers before it claims work; each
// server's record (its tool list) goes to KV sy_runner_caps when it connects, and again after
// every reconnect.
// HTTP servers speak Streamable HTTP, with the older HTTP+SSE transport as a fallback.
// A call to a server that is down is a tool error with `retryable: true` that the model reads;
// a call is bounded by MCP_TOOL_TIMEOUT_MS, and an abort of the run reaches the server as an MCP
// cancellation (the SDK sends notifications/cancelled for an aborted request).
import { readFileSync } from "node:fs";
import path from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { SSEClientTransport } from "@modelcontextprotocol/sdk/client/sse.js";
import { getDefaultEnvironment, StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import { capabilityKeys, McpServerName, type McpServerRecord, type McpToolInfo, parseMcpSelection, SwitchyardError } from "@switchyard/contracts";
import type { KV, Logger } from "@switchyard/runtime";
import { z } from "zod";
import { sleep } from "./abortable.ts";
import type { Tool, ToolSpec } from "./tools.ts";

const StdioServer = z
  .object({
    command: z.string().min(1),
    args: z.array(z.string()).max(256).default([]),
    env: z.record(z.string(), z.string()).default({}),
    cwd: z.string().optional(),
  })
  .strict();
const HttpServer = z
  .object({
    url: z.url({ protocol: /^https?$/ }),
    headers: z.record(z.string(), z.string()).default({}),
  })
  .strict();
export const McpServersFile = z.object({ mcpServers: z.record(McpServerName, z.union([StdioServer, HttpServer])) });
export type McpServerConfig = z.infer<typeof StdioServer> | z.infer<typeof HttpServer>;

/** Reads MCP_SERVERS; throws naming the file and the field on a bad one. */
export function loadMcpServers(file: string): Map<string, McpServerConfig> {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch (err) {
    throw new Error(`MCP_SERVERS: cannot read ${file}: ${(err as Error).message}`);
  }
  const parsed = McpServersFile.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");
    throw new Error(`MCP_SERVERS: ${file} is not a valid MCP server list: ${issues}`);
  }
  const base = path.dirname(path.resolve(file));
  const out = new Map<string, McpServerConfig>();
  for (const [name, cfg] of Object.entries(parsed.data.mcpServers)) {
    out.set(name, "command" in cfg && cfg.cwd ? { ...cfg, cwd: path.resolve(base, cfg.cwd) } : cfg);
  }
  return out;
}

export interface McpOptions {
  toolTimeoutMs: number;
  /** Tool results longer than this (as JSON) are cut, with a marker. */
  resultMaxChars: number;
  log: Logger;
  /** Called after each (re)connect of a server, with its tool list (the node publishes it). */
  onConnected?: (server: string) => void;
}

const GUARD = path.join(import.meta.dirname, "mcp-stdio-guard.mjs");

class McpServer {
  readonly name: string;
  readonly config: McpServerConfig;
  readonly #opts: McpOptions;
  #client: Client | null = null;
  #tools: McpToolInfo[] = [];
  #stopping = false;
  #backoff = 500;
  /** Resolves once the first connection attempt ended (either way). */
  ready: Promise<void>;
  /** Bumped on every (re)connect, so tests and logs can tell restarts apart. */
  generation = 0;
  pid: number | null = null;

  constructor(name: string, config: McpServerConfig, opts: McpOptions) {
    this.name = name;
    this.config = config;
    this.#opts = opts;
    this.ready = this.#connectLoop();
  }

  get up(): boolean {
    return this.#client !== null;
  }
  get tools(): readonly McpToolInfo[] {
    return this.#tools;
  }
  get transport(): "stdio" | "http" {
    return "command" in this.config ? "stdio" : "http";
  }

  async #connectOnce(): Promise<void> {
    let client = new Client({ name: "switchyard-runner", version: "0.1.0" });
    let transport: Transport;
    if ("command" in this.config) {
      const cfg = this.config;
      const t = new StdioClientTransport({
        command: process.execPath,
        args: [GUARD, cfg.command, ...cfg.args],
        env: { ...getDefaultEnvironment(), ...cfg.env },
        ...(cfg.cwd ? { cwd: cfg.cwd } : {}),
        stderr: "ignore",
      });
      transport = t;
      try {
        await client.connect(transport);
      } catch (err) {
        await client.close().catch(() => undefined); // stops the server if it started
        throw err;
      }
      this.pid = t.pid;
    } else {
      const url = new URL(this.config.url);
      const requestInit = { headers: this.config.headers };
      try {
        transport = new StreamableHTTPClientTransport(url, { requestInit });
        await client.connect(transport);
      } catch (err) {
        // A server of the older HTTP+SSE transport answers the Streamable HTTP POST with a 4xx.
        this.#opts.log.debug({ mcp: this.name, err: (err as Error).message }, "Streamable HTTP failed; trying HTTP+SSE");
        await client.close().catch(() => undefined);
        client = new Client({ name: "switchyard-runner", version: "0.1.0" });
        transport = new SSEClientTransport(url, { requestInit });
        await client.connect(transport);
      }
    }
    const connected = client;
    const tools: McpToolInfo[] = [];
    try {
      let cursor: string | undefined;
      do {
        const page = await connected.listTools(cursor ? { cursor } : {}, { timeout: this.#opts.toolTimeoutMs });
        for (const t of page.tools)
          tools.push({ name: t.name, ...(t.description ? { description: t.description } : {}), input_schema: t.inputSchema as Record<string, unknown> });
        cursor = page.nextCursor;
      } while (cursor && tools.length < 10_000);
    } catch (err) {
      await connected.close().catch(() => undefined); // stops a stdio server we started
      throw err;
    }
    connected.onclose = () => {
      if (this.#client !== connected) return;
      this.#client = null;
      if (this.#stopping) return;
      this.#opts.log.warn({ mcp: this.name }, "MCP server connection closed; restarting it");
      this.ready = this.#connectLoop();
    };
    this.#tools = tools;
    this.#client = connected;
    this.generation++;
    this.#backoff = 500;
  }

  async #connectLoop(): Promise<void> {
    while (!this.#stopping) {
      try {
        await this.#connectOnce();
        this.#opts.log.info({ mcp: this.name, transport: this.transport, tools: this.#tools.length, generation: this.generation }, "MCP server connected");
        this.#opts.onConnected?.(this.name);
        return;
      } catch (err) {
        this.#opts.log.warn({ mcp: this.name, err: (err as Error).message, retry_in_ms: this.#backoff }, "MCP server unavailable; retrying");
        await sleep(this.#backoff);
        this.#backoff = Math.min(this.#backoff * 2, 10_000);
      }
    }
  }

  async call(tool: string, args: Record<string, unknown>, signal: AbortSignal): Promise<unknown> {
    const client = this.#client;
    if (!client) {
      throw new SwitchyardError("tool_error", `MCP server '${this.name}' is not running (it is being restarted); try again`, { retryable: true });
    }
    let res: Awaited<ReturnType<Client["callTool"]>>;
    try {
      res = await client.callTool({ name: tool, arguments: args }, undefined, { signal, timeout: this.#opts.toolTimeoutMs });
    } catch (err) {
      if (signal.aborted) throw err;
      const msg = (err as Error)?.message ?? String(err);
      const lost = this.#client !== client || /closed|timed? ?out|ECONN|EPIPE/i.test(msg);
      throw new SwitchyardError("tool_error", `MCP ${this.name}.${tool}: ${msg}`, { retryable: lost });
    }
    const result = toolResult(res as CallResult);
    if ((res as CallResult).isError) {
      const text = typeof result === "string" ? result : JSON.stringify(result);
      throw new SwitchyardError("tool_error", `MCP ${this.name}.${tool} failed: ${truncate(text, this.#opts.resultMaxChars)}`, { retryable: false });
    }
    return truncateResult(result, this.#opts.resultMaxChars);
  }

  async close(): Promise<void> {
    this.#stopping = true;
    const c = this.#client;
    this.#client = null;
    await c?.close().catch(() => undefined);
  }
}

interface CallResult {
  content?: {
    type: string;
    text?: string;
    mimeType?: string;
    data?: string;
    uri?: string;
    name?: string;
    resource?: { uri?: string; mimeType?: string; text?: string };
  }[];
  structuredContent?: unknown;
  isError?: boolean;
}

/** An MCP result as our tool result: structured content, else the text, else parts (images as references, not bytes). */
export function toolResult(res: CallResult): unknown {
  if (res.structuredContent !== undefined) return res.structuredContent;
  const parts = res.content ?? [];
  if (parts.length > 0 && parts.every((p) => p.type === "text")) return parts.map((p) => p.text ?? "").join("\n");
  return parts.map((p) => {
    if (p.type === "text") return { type: "text", text: p.text ?? "" };
    if (p.type === "image" || p.type === "audio")
      return { type: p.type, mime_type: p.mimeType ?? null, bytes: Math.floor(((p.data ?? "").length * 3) / 4), note: `${p.type} content omitted` };
    if (p.type === "resource_link") return { type: "resource_link", uri: p.uri ?? null, name: p.name ?? null };
    if (p.type === "resource") return { type: "resource", uri: p.resource?.uri ?? null, mime_type: p.resource?.mimeType ?? null, text: p.resource?.text };
    return { type: p.type };
  });
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}…[truncated: ${max} of ${text.length} characters]`;
}

/** A result whose JSON is longer than `max` becomes its JSON text cut at `max`, with a marker saying so. */
export function truncateResult(result: unknown, max: number): unknown {
  const text = typeof result === "string" ? result : JSON.stringify(result ?? null);
  if (text.length <= max) return result;
  return truncate(text, max);
}

/** Every MCP server of this node: tool lists, calls, and their records in KV sy_runner_caps. */
export class McpHub {
  readonly #servers = new Map<string, McpServer>();

  constructor(configs: ReadonlyMap<string, McpServerConfig>, opts: McpOptions) {
    for (const [name, cfg] of configs) this.#servers.set(name, new McpServer(name, cfg, opts));
  }

  get names(): string[] {
    return [...this.#servers.keys()].sort();
  }

  /** Waits for each server's first connection attempt, up to `ms`. */
  async ready(ms: number): Promise<void> {
    await Promise.race([Promise.all([...this.#servers.values()].map((s) => s.ready)), sleep(ms)]);
  }

  server(name: string): { up: boolean; generation: number; pid: number | null; tools: readonly McpToolInfo[] } | null {
    const s = this.#servers.get(name);
    return s ? { up: s.up, generation: s.generation, pid: s.pid, tools: s.tools } : null;
  }

  /** Records of the servers that have connected at least once (their tool lists are known). */
  records(nodeId: string): McpServerRecord[] {
    const at = new Date().toISOString();
    return [...this.#servers.values()]
      .filter((s) => s.generation > 0)
      .map((s) => ({
        v: 1 as const,
        type: "mcp" as const,
        name: s.name,
        transport: s.transport,
        tools: [...s.tools],
        registered_by: nodeId,
        registered_at: at,
      }));
  }

  /** Writes the record of each connected server (or of `only`) to KV sy_runner_caps. */
  async publish(kv: KV, nodeId: string, only?: string): Promise<void> {
    for (const r of this.records(nodeId)) if (!only || r.name === only) await kv.put(capabilityKeys.mcp(r.name), JSON.stringify(r));
  }

  /** The tools an agent's `mcp` selection gives it on this node, named `<server>.<tool>`. */
  toolsFor(selections: readonly string[]): { specs: ToolSpec[]; tools: Record<string, Tool> } {
    const specs: ToolSpec[] = [];
    const tools: Record<string, Tool> = {};
    for (const sel of selections) {
      const { server, tool } = parseMcpSelection(sel);
      const s = this.#servers.get(server);
      if (!s) continue;
      for (const t of s.tools) {
        if (tool !== null && t.name !== tool) continue;
        const name = `${server}.${t.name}`;
        if (Object.hasOwn(tools, name)) continue;
        specs.push({ name, description: t.description ?? "", parameters: t.input_schema });
        tools[name] = (args, signal) => s.call(t.name, args, signal);
      }
    }
    return { specs, tools };
  }

  async close(): Promise<void> {
    await Promise.all([...this.#servers.values()].map((s) => s.close()));
  }
}
