// A body over BODY_LIMIT_BYTES is refused with 413 before it is read. The client is usually
// still writing then; were the gateway to close the connection at once, the client's kernel
// could reset it and throw our answer away unread (EPIPE/ECONNRESET on a busy machine). So the
// gateway reads and discards the rest of a body of declared, bounded length and keeps the
// connection: the client always reads its 413.
import { connect, type Socket } from "node:net";
import { createLogger } from "@switchyard/runtime";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildApp } from "./app.ts";
import type { GatewayContext } from "./context.ts";
import { GatewayEnv } from "./env.ts";

const BODY_LIMIT = 64 * 1024;
// Nothing on these paths reaches NATS or Redis: the body parser refuses before any route runs.
const ctx = {
  env: GatewayEnv.parse({ BODY_LIMIT_BYTES: String(BODY_LIMIT) }),
  log: createLogger("gateway-test", { level: "silent", format: "json" }),
} as unknown as GatewayContext;
const app = buildApp(ctx);
let port = 0;

beforeAll(async () => {
  await app.listen({ host: "127.0.0.1", port: 0 });
  port = (app.server.address() as { port: number }).port;
});
afterAll(async () => {
  await app.close();
});

/** Reads from the socket until `count` complete HTTP responses (with Content-Length bodies) arrived. */
function readResponses(socket: Socket, count: number): Promise<{ status: number; headers: string; body: string }[]> {
  return new Promise((resolve, reject) => {
    let buf = "";
    const onData = (chunk: Buffer) => {
      buf += chunk.toString("latin1");
      const out: { status: number; headers: string; body: string }[] = [];
      let rest = buf;
      for (;;) {
        const end = rest.indexOf("\r\n\r\n");
        if (end < 0) break;
        const head = rest.slice(0, end);
        const length = Number(/content-length: *(\d+)/i.exec(head)?.[1] ?? 0);
        if (rest.length < end + 4 + length) break;
        out.push({ status: Number(head.split(" ")[1]), headers: head.toLowerCase(), body: rest.slice(end + 4, end + 4 + length) });
        rest = rest.slice(end + 4 + length);
      }
      if (out.length >= count) {
        socket.off("data", onData);
        resolve(out);
      }
    };
    socket.on("data", onData);
    socket.once("error", reject);
    socket.once("close", () => reject(new Error(`connection closed after: ${JSON.stringify(buf.slice(0, 300))}`)));
  });
}

describe("a body over BODY_LIMIT_BYTES", () => {
  it("is answered 413 first, then read to its end while the connection stays usable", async () => {
    const socket = connect(port, "127.0.0.1");
    await new Promise((r) => socket.once("connect", r));
    const declared = 4 * BODY_LIMIT;
    const first = readResponses(socket, 1);
    socket.write(`POST /v1/tasks HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${declared}\r\n\r\n`);
    socket.write("x".repeat(1024));
    const [refused] = await first;
    expect(refused?.status).toBe(413);
    expect(JSON.parse(refused?.body ?? "{}").error.code).toBe("payload_too_large");
    expect(refused?.headers).not.toContain("connection: close");
    // The client goes on writing what it declared; then a second request on the same connection.
    const second = readResponses(socket, 1);
    socket.write("x".repeat(declared - 1024));
    socket.write("GET /no-such-route HTTP/1.1\r\nHost: x\r\n\r\n");
    const [next] = await second;
    expect(next?.status).toBe(404);
    socket.destroy();
  });

  it("closes the connection instead when the declared body is far beyond the limit", async () => {
    const socket = connect(port, "127.0.0.1");
    await new Promise((r) => socket.once("connect", r));
    const first = readResponses(socket, 1);
    socket.write(`POST /v1/tasks HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${100 * BODY_LIMIT}\r\n\r\n`);
    socket.write("x".repeat(1024));
    const [refused] = await first;
    expect(refused?.status).toBe(413);
    expect(refused?.headers).toContain("connection: close");
    socket.destroy();
  });
});
