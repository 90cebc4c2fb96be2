// The floor: the same API shape as the gateway with no work behind it. POST /v1/tasks reads
// the body and answers 202 with an id; GET /v1/tasks/:id/events answers one `completed` status
// event at once and ends. What the client and Node's HTTP stack carry on this machine.
import { randomUUID } from "node:crypto";
import http from "node:http";
import { exitWithParent } from "../proc.ts";

const server = http.createServer((req, res) => {
  if (req.method === "POST" && req.url === "/v1/tasks") {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (c: string) => {
      body += c;
    });
    req.on("end", () => {
      const parsed = JSON.parse(body) as { agent?: string };
      const id = randomUUID();
      const payload = JSON.stringify({ id, status: "queued", agent: parsed.agent ?? "", events_url: `/v1/tasks/${id}/events`, duplicate: false });
      res.writeHead(202, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(payload) });
      res.end(payload);
    });
    return;
  }
  const m = /^\/v1\/tasks\/([^/]+)\/events/.exec(req.url ?? "");
  if (req.method === "GET" && m) {
    const id = m[1] as string;
    const event = { seq: 1, task_id: id, run_id: null, attempt: 1, ts: new Date().toISOString(), type: "status", data: { status: "completed", attempt: 1 } };
    res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache" });
    res.write(": floor\n\n");
    res.end(`id: 1\nevent: status\ndata: ${JSON.stringify(event)}\n\n`);
    return;
  }
  res.writeHead(404).end();
});

server.keepAliveTimeout = 60_000;
server.listen(0, "127.0.0.1", () => {
  const port = (server.address() as { port: number }).port;
  console.log(JSON.stringify({ ready: true, url: `http://127.0.0.1:${port}` }));
});
exitWithParent(() => new Promise<void>((r) => server.close(() => r())));
