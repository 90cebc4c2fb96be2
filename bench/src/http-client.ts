// The one client every HTTP side is driven by: node:http with keep-alive, a JSON submit, and a
// minimal Server-Sent Events reader that parses only what it needs (the event type of every
// frame; the JSON of status frames; the `ts` field when lag is measured). Its own CPU time is
// measured and reported next to every figure.
import http from "node:http";

/** BENCH_API_KEY: every request carries it as a bearer token (the fleet then requires keys: auth on the hot path). */
const AUTH: Record<string, string> = process.env.BENCH_API_KEY ? { authorization: `Bearer ${process.env.BENCH_API_KEY}` } : {};

export const agent = new http.Agent({ keepAlive: true, maxSockets: Number.POSITIVE_INFINITY, maxFreeSockets: 2048 });

export interface JsonResponse {
  status: number;
  body: Record<string, unknown>;
}

export function requestJson(baseUrl: string, method: string, path: string, body?: unknown): Promise<JsonResponse> {
  const url = new URL(path, baseUrl);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname + url.search,
        method,
        agent,
        headers: payload === undefined ? AUTH : { ...AUTH, "content-type": "application/json", "content-length": Buffer.byteLength(payload) },
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => {
          text += c;
        });
        res.on("end", () => {
          let parsed: Record<string, unknown> = {};
          try {
            parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
          } catch {
            parsed = { raw: text };
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(payload);
  });
}

export interface SseFrame {
  type: string;
  /** The raw `data:` line (JSON text). */
  data: string;
  receivedAt: number;
}

export interface FollowOptions {
  /** Called for every event frame (not comments). */
  onEvent?: (frame: SseFrame) => void;
  /** Aborts the stream (closes the socket). */
  signal?: AbortSignal;
}

export interface FollowResult {
  /** performance.now() of the first event frame, or NaN. */
  firstEventAt: number;
  /** performance.now() of the terminal status frame, or NaN. */
  terminalAt: number;
  terminalStatus: string | null;
  events: number;
}

const TERMINAL = /"status":"(completed|failed|canceled)"/;

/** Follows an SSE stream until the server ends it (after the terminal status) or `signal` aborts. */
export function followSse(baseUrl: string, path: string, opts: FollowOptions = {}): Promise<FollowResult> {
  const url = new URL(path, baseUrl);
  return new Promise((resolve, reject) => {
    const result: FollowResult = { firstEventAt: Number.NaN, terminalAt: Number.NaN, terminalStatus: null, events: 0 };
    const req = http.request(
      { host: url.hostname, port: url.port, path: url.pathname + url.search, method: "GET", agent, headers: { ...AUTH, accept: "text/event-stream" } },
      (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          reject(new Error(`SSE ${path}: HTTP ${res.statusCode}`));
          return;
        }
        res.setEncoding("utf8");
        let buf = "";
        res.on("data", (chunk: string) => {
          buf += chunk;
          let end = buf.indexOf("\n\n");
          if (end < 0) return;
          const now = performance.now();
          let start = 0;
          while (end >= 0) {
            const frame = buf.slice(start, end);
            start = end + 2;
            end = buf.indexOf("\n\n", start);
            if (frame.charCodeAt(0) === 58 /* ":" comment */) continue;
            let type = "message";
            let data = "";
            for (const line of frame.split("\n")) {
              if (line.startsWith("event: ")) type = line.slice(7);
              else if (line.startsWith("data: ")) data = line.slice(6);
            }
            result.events++;
            if (Number.isNaN(result.firstEventAt)) result.firstEventAt = now;
            if (type === "status" && Number.isNaN(result.terminalAt)) {
              const m = TERMINAL.exec(data);
              if (m) {
                result.terminalAt = now;
                result.terminalStatus = m[1] ?? null;
              }
            }
            opts.onEvent?.({ type, data, receivedAt: now });
          }
          buf = buf.slice(start);
        });
        res.on("end", () => resolve(result));
        res.on("error", reject);
        res.on("aborted", () => resolve(result));
      },
    );
    req.on("error", (err) => (opts.signal?.aborted ? resolve(result) : reject(err)));
    opts.signal?.addEventListener("abort", () => req.destroy(), { once: true });
    req.end();
  });
}

/** Milliseconds since the epoch of an event's `ts` field, read without parsing the JSON. */
export function eventTsMs(data: string): number {
  const i = data.indexOf('"ts":"');
  if (i < 0) return Number.NaN;
  return Date.parse(data.slice(i + 6, data.indexOf('"', i + 6)));
}
