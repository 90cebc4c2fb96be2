// A local model provider for tests: one HTTP server that speaks the streaming wire formats as
// the providers document them. OpenAI Chat Completions (`POST /v1/chat/completions`, SSE of
// `chat.completion.chunk` objects, tool-call arguments split across chunks, the usage chunk of
// `stream_options.include_usage` with empty `choices`, then `data: [DONE]`), and Anthropic
// Messages (`POST /v1/messages`: message_start, content_block_start / content_block_delta
// (text_delta, thinking_delta, input_json_delta) / content_block_stop, message_delta with usage,
// message_stop). Errors are the providers' JSON error bodies with their HTTP status and headers.
// What to answer is the test's choice (`respond`); every request and every connection the
// client closed before the response ended is recorded.
import { once } from "node:events";
import http from "node:http";
import type { AddressInfo } from "node:net";

export interface Turn {
  /** An error answer: HTTP status, headers (e.g. Retry-After), message. */
  status?: number;
  headers?: Record<string, string>;
  message?: string;
  /** A streamed answer. */
  reasoning?: string[];
  text?: string[];
  tools?: { name: string; args: Record<string, unknown> }[];
  usage?: { input: number; output: number; cached?: number; reasoning?: number };
  /** Pause between chunks. */
  chunkDelayMs?: number;
  /** Stream the text, then keep the connection open without ending (cancel and crash tests). */
  hang?: boolean;
}

export interface ProviderRequest {
  api: "openai" | "anthropic";
  n: number;
  body: any;
  headers: http.IncomingHttpHeaders;
  at: number;
  /** When the first byte of the answer was written. */
  firstByteAt?: number;
}

export interface FakeProvider {
  /** Base URL to give the SDKs, ending in /v1. */
  baseUrl: string;
  requests: ProviderRequest[];
  /** Requests whose connection the client closed before the answer ended. */
  closedEarly: ProviderRequest[];
  respond: (req: ProviderRequest) => Turn;
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Splits a string in `parts` pieces (arguments arrive in fragments, as providers send them). */
function split(s: string, parts: number): string[] {
  const size = Math.max(1, Math.ceil(s.length / parts));
  const out: string[] = [];
  for (let i = 0; i < s.length; i += size) out.push(s.slice(i, i + size));
  return out;
}

async function* openaiFrames(t: Turn, model: string): AsyncGenerator<string> {
  const base = { id: "chatcmpl-test", object: "chat.completion.chunk", created: Math.floor(Date.now() / 1000), model, system_fingerprint: "fp_test" };
  const chunk = (delta: unknown, finish: string | null = null) =>
    `data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }], usage: null })}\n\n`;
  yield chunk({ role: "assistant", content: "", refusal: null });
  for (const text of t.text ?? []) yield chunk({ content: text });
  if (t.hang) return;
  for (const [i, call] of (t.tools ?? []).entries()) {
    yield chunk({ tool_calls: [{ index: i, id: `call_test_${i}`, type: "function", function: { name: call.name, arguments: "" } }] });
    for (const piece of split(JSON.stringify(call.args), 3)) yield chunk({ tool_calls: [{ index: i, function: { arguments: piece } }] });
  }
  yield chunk({}, t.tools?.length ? "tool_calls" : "stop");
  if (t.usage) {
    const u = t.usage;
    yield `data: ${JSON.stringify({
      ...base,
      choices: [],
      usage: {
        prompt_tokens: u.input,
        completion_tokens: u.output,
        total_tokens: u.input + u.output,
        prompt_tokens_details: { cached_tokens: u.cached ?? 0, audio_tokens: 0 },
        completion_tokens_details: { reasoning_tokens: u.reasoning ?? 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
      },
    })}\n\n`;
  }
  yield "data: [DONE]\n\n";
}

async function* anthropicFrames(t: Turn, model: string): AsyncGenerator<string> {
  const ev = (type: string, data: Record<string, unknown>) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
  const u = t.usage ?? { input: 0, output: 0 };
  yield ev("message_start", {
    message: {
      id: "msg_test",
      type: "message",
      role: "assistant",
      content: [],
      model,
      stop_reason: null,
      stop_sequence: null,
      usage: { input_tokens: u.input, output_tokens: 1, cache_creation_input_tokens: 0, cache_read_input_tokens: u.cached ?? 0 },
    },
  });
  let index = 0;
  if (t.reasoning?.length) {
    yield ev("content_block_start", { index, content_block: { type: "thinking", thinking: "" } });
    for (const r of t.reasoning) yield ev("content_block_delta", { index, delta: { type: "thinking_delta", thinking: r } });
    yield ev("content_block_delta", { index, delta: { type: "signature_delta", signature: "c2lnbmF0dXJl" } });
    yield ev("content_block_stop", { index });
    index++;
  }
  yield ev("content_block_start", { index, content_block: { type: "text", text: "" } });
  yield ev("ping", {});
  for (const text of t.text ?? []) yield ev("content_block_delta", { index, delta: { type: "text_delta", text } });
  if (t.hang) return;
  yield ev("content_block_stop", { index });
  index++;
  for (const [i, call] of (t.tools ?? []).entries()) {
    yield ev("content_block_start", { index, content_block: { type: "tool_use", id: `toolu_test_${i}`, name: call.name, input: {} } });
    yield ev("content_block_delta", { index, delta: { type: "input_json_delta", partial_json: "" } });
    for (const piece of split(JSON.stringify(call.args), 3))
      yield ev("content_block_delta", { index, delta: { type: "input_json_delta", partial_json: piece } });
    yield ev("content_block_stop", { index });
    index++;
  }
  yield ev("message_delta", { delta: { stop_reason: t.tools?.length ? "tool_use" : "end_turn", stop_sequence: null }, usage: { output_tokens: u.output } });
  yield ev("message_stop", {});
}

function errorBody(api: "openai" | "anthropic", status: number, message: string): string {
  if (api === "anthropic") {
    const type = status === 401 ? "authentication_error" : status === 429 ? "rate_limit_error" : status >= 500 ? "api_error" : "invalid_request_error";
    return JSON.stringify({ type: "error", error: { type, message } });
  }
  const code = status === 401 ? "invalid_api_key" : status === 429 ? "rate_limit_exceeded" : null;
  return JSON.stringify({ error: { message, type: status === 429 ? "requests" : "invalid_request_error", param: null, code } });
}

export async function startFakeProvider(respond: (req: ProviderRequest) => Turn = () => ({ text: ["ok"] })): Promise<FakeProvider> {
  const requests: ProviderRequest[] = [];
  const closedEarly: ProviderRequest[] = [];
  const fake: FakeProvider = { baseUrl: "", requests, closedEarly, respond, close: async () => {} };
  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const api = req.url?.endsWith("/chat/completions") ? "openai" : req.url?.endsWith("/messages") ? "anthropic" : null;
    if (req.method !== "POST" || !api) {
      res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ error: { message: `no route ${req.method} ${req.url}` } }));
      return;
    }
    let body: any;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
    } catch {
      res.writeHead(400).end();
      return;
    }
    const r: ProviderRequest = { api, n: requests.length + 1, body, headers: req.headers, at: Date.now() };
    requests.push(r);
    const turn = fake.respond(r);
    if (turn.status) {
      res.writeHead(turn.status, { "content-type": "application/json", ...turn.headers }).end(errorBody(api, turn.status, turn.message ?? "error"));
      return;
    }
    let ended = false;
    res.on("close", () => {
      if (!ended) closedEarly.push(r);
    });
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" });
    const frames = api === "openai" ? openaiFrames(turn, String(body.model)) : anthropicFrames(turn, String(body.model));
    for await (const frame of frames) {
      if (res.destroyed) return;
      r.firstByteAt ??= Date.now();
      res.write(frame);
      if (turn.chunkDelayMs) await sleep(turn.chunkDelayMs);
    }
    if (turn.hang) return; // the client (or its death) ends it
    ended = true;
    res.end();
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  fake.baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  fake.close = async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  };
  return fake;
}
