// The client's retry rules against a real local HTTP server: 503 and 429 are retried with the
// same Idempotency-Key, Retry-After is honoured, 4xx is not retried, and a follow that is cut
// mid-stream resumes with Last-Event-ID. (Against a real fleet: test/e2e/client-sdk.test.ts.)
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { createClient, parseRetryAfter } from "./client.ts";
import { SwitchyardApiError } from "./errors.ts";

let server: Server | undefined;
afterEach(async () => {
  await new Promise((r) => (server ? server.close(r) : r(undefined)));
  server = undefined;
});

async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  server = createServer(handler);
  await new Promise<void>((r) => server?.listen(0, "127.0.0.1", r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify(body));
};

describe("retries", () => {
  it("retries a submit on 503 and 429 with the same Idempotency-Key, honouring Retry-After", async () => {
    const seen: { key: string | undefined; at: number }[] = [];
    const url = await serve((req, res) => {
      seen.push({ key: req.headers["idempotency-key"] as string | undefined, at: Date.now() });
      if (seen.length === 1) return json(res, 503, { error: { code: "unavailable", message: "starting" } }, { "retry-after": "1" });
      if (seen.length === 2) return json(res, 429, { error: { code: "rate_limited", message: "slow down" } });
      json(res, 202, { id: "t1", status: "queued", agent: "a", events_url: "/v1/tasks/t1/events", duplicate: false });
    });
    const sy = createClient({ baseUrl: url, retry: { baseDelayMs: 10 } });
    const out = await sy.tasks.submit({ agent: "a", input: "x" });
    expect(out.id).toBe("t1");
    expect(seen).toHaveLength(3);
    expect(seen[0]?.key).toMatch(/^[0-9a-f-]{36}$/);
    expect(new Set(seen.map((s) => s.key)).size).toBe(1);
    expect((seen[1]?.at ?? 0) - (seen[0]?.at ?? 0)).toBeGreaterThanOrEqual(900); // Retry-After: 1
  });

  it("does not retry a 4xx, and gives up after `attempts` 503s", async () => {
    let calls = 0;
    const url = await serve((req, res) => {
      calls++;
      if (req.url?.startsWith("/v1/tasks/bad")) return json(res, 400, { error: { code: "bad_request", message: "no", details: [{ path: "agent" }] } });
      json(res, 503, { error: { code: "unavailable", message: "down" } });
    });
    const sy = createClient({ baseUrl: url, retry: { attempts: 3, baseDelayMs: 1 } });
    const bad = (await sy.tasks.get("bad").catch((e: unknown) => e)) as SwitchyardApiError;
    expect(bad).toBeInstanceOf(SwitchyardApiError);
    expect([bad.status, bad.code, calls]).toEqual([400, "bad_request", 1]);
    const down = (await sy.tasks.get("x").catch((e: unknown) => e)) as SwitchyardApiError;
    expect([down.status, down.code, calls]).toEqual([503, "unavailable", 4]);
  });

  it("parses Retry-After as seconds or an HTTP date", () => {
    expect(parseRetryAfter("2")).toBe(2000);
    expect(parseRetryAfter(null)).toBeNull();
    expect(parseRetryAfter("soon")).toBeNull();
    const d = parseRetryAfter(new Date(Date.now() + 5000).toUTCString()) ?? 0;
    expect(d).toBeGreaterThan(3000);
  });
});

describe("follow", () => {
  it("resumes a cut stream with Last-Event-ID and yields each seq once", async () => {
    const lastIds: (string | undefined)[] = [];
    const ev = (seq: number, type: string, data: unknown) =>
      `id: ${seq}\nevent: ${type}\ndata: ${JSON.stringify({ seq, type, task_id: "t", run_id: null, attempt: 1, ts: "", data })}\n\n`;
    const url = await serve((req, res) => {
      lastIds.push(req.headers["last-event-id"] as string | undefined);
      res.writeHead(200, { "content-type": "text/event-stream" });
      if (lastIds.length === 1) {
        // Two events, then the connection dies.
        res.write(ev(1, "status", { status: "queued" }) + ev(4, "text.delta", { round: 1, delta: "a" }));
        setTimeout(() => res.socket?.destroy(), 50);
        return;
      }
      // The resume overlaps: seq 4 again (must be dropped), then the rest.
      res.end(ev(4, "text.delta", { round: 1, delta: "a" }) + ev(9, "text.delta", { round: 1, delta: "b" }) + ev(12, "status", { status: "completed" }));
    });
    const sy = createClient({ baseUrl: url });
    const seqs: number[] = [];
    for await (const e of sy.tasks.follow("t")) seqs.push(e.seq);
    expect(seqs).toEqual([1, 4, 9, 12]);
    expect(lastIds).toEqual([undefined, "4"]);
  });
});
