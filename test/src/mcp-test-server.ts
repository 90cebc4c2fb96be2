// An MCP server written with the SDK's server side, for tests: over stdio (`node
// mcp-test-server.ts`), Streamable HTTP (`node mcp-test-server.ts --http <port>`, answering on
// /mcp) or the older HTTP+SSE transport only (`--sse <port>`: the event stream on GET /sse, the
// client's messages on POST /messages; a Streamable HTTP POST to /sse gets 405, as from such a
// server). Tools: `add` {a, b} → the sum as text and as structured content; `pid` → its process
// id; `slow` {ms} → waits (a cancellation ends it and is appended to $MCP_TEST_LOG); `crash` →
// exits at once (the runner must restart it); `big` {chars} → a long text. With
// MCP_TEST_STUBBORN=1 it does not exit when its stdin closes (as some servers do not), so only
// the runner's guard can stop it.
import { appendFileSync } from "node:fs";
import http from "node:http";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { SSEServerTransport } from "@modelcontextprotocol/sdk/server/sse.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { z } from "zod";

function build(): McpServer {
  const server = new McpServer({ name: "switchyard-test", version: "1.0.0" });
  server.registerTool(
    "add",
    { description: "Adds two numbers.", inputSchema: { a: z.number(), b: z.number() }, outputSchema: { sum: z.number() } },
    async ({ a, b }) => ({ content: [{ type: "text", text: String(a + b) }], structuredContent: { sum: a + b } }),
  );
  server.registerTool("pid", { description: "The server's process id." }, async () => ({ content: [{ type: "text", text: String(process.pid) }] }));
  server.registerTool("slow", { description: "Waits ms milliseconds.", inputSchema: { ms: z.number() } }, async ({ ms }, extra) => {
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms);
      extra.signal.addEventListener("abort", () => {
        clearTimeout(t);
        if (process.env.MCP_TEST_LOG) appendFileSync(process.env.MCP_TEST_LOG, `cancelled ${String(extra.requestId)}\n`);
        resolve();
      });
    });
    return { content: [{ type: "text", text: `slept ${ms}` }] };
  });
  server.registerTool("crash", { description: "Exits the server process." }, async () => {
    setTimeout(() => process.exit(3), 10);
    return { content: [{ type: "text", text: "crashing" }] };
  });
  server.registerTool("big", { description: "A long text.", inputSchema: { chars: z.number() } }, async ({ chars }) => ({
    content: [{ type: "text", text: "x".repeat(chars) }],
  }));
  return server;
}

const httpAt = process.argv.indexOf("--http");
const sseAt = process.argv.indexOf("--sse");
if (sseAt >= 0) {
  const port = Number(process.argv[sseAt + 1] ?? 0);
  const sessions = new Map<string, SSEServerTransport>();
  const srv = http.createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    if (url.pathname === "/sse" && req.method === "GET") {
      const transport = new SSEServerTransport("/messages", res);
      sessions.set(transport.sessionId, transport);
      res.on("close", () => sessions.delete(transport.sessionId));
      await build().connect(transport);
      return;
    }
    if (url.pathname === "/messages" && req.method === "POST") {
      const transport = sessions.get(url.searchParams.get("sessionId") ?? "");
      if (!transport) {
        res.writeHead(404).end("no such session");
        return;
      }
      await transport.handlePostMessage(req, res);
      return;
    }
    res.writeHead(url.pathname === "/sse" ? 405 : 404).end();
  });
  srv.listen(port, "127.0.0.1", () => {
    const addr = srv.address();
    process.stdout.write(`listening ${typeof addr === "object" && addr ? addr.port : port}\n`);
  });
} else if (httpAt >= 0) {
  const port = Number(process.argv[httpAt + 1] ?? 0);
  const srv = http.createServer(async (req, res) => {
    if (!req.url?.startsWith("/mcp")) {
      res.writeHead(404).end();
      return;
    }
    // Stateless: a server and transport per request.
    const server = build();
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    res.on("close", () => {
      void transport.close();
      void server.close();
    });
    await server.connect(transport);
    await transport.handleRequest(req, res);
  });
  srv.listen(port, "127.0.0.1", () => {
    const addr = srv.address();
    process.stdout.write(`listening ${typeof addr === "object" && addr ? addr.port : port}\n`);
  });
} else {
  await build().connect(new StdioServerTransport());
  if (process.env.MCP_TEST_STUBBORN === "1") setInterval(() => undefined, 1 << 30);
}
