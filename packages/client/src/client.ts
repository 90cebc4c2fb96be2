// The Switchyard client: fetch-based (Node 20+, browsers, Deno, Bun), no dependency beyond an
// SSE parser. Requests that are safe to repeat are retried on 503, 429 and connection failures
// with exponential backoff (Retry-After honoured); a submit carries an Idempotency-Key by
// default, so retrying it never creates a second task.
import { createParser } from "eventsource-parser";
import { errorFromBody, SwitchyardApiError } from "./errors.ts";
import type {
  AgentDef,
  AgentDefInput,
  AnswerResponse,
  ApprovalBody,
  CancelResponse,
  Health,
  ListTasksQuery,
  ListTasksResponse,
  RunnerKindInfo,
  RunnerNode,
  SubmitTaskBody,
  SubmitTaskResponse,
  TaskEvent,
  TaskInput,
  TaskStatus,
  TaskView,
  ToolResultBody,
} from "./types.ts";

export interface RetryOptions {
  /** Attempts in all, the first included (default 5). */
  attempts?: number;
  /** First backoff (default 200 ms); doubles each time, with jitter. */
  baseDelayMs?: number;
  /** Longest backoff, Retry-After included (default 10 s). */
  maxDelayMs?: number;
}

export interface ClientOptions {
  /** The gateway, e.g. `http://localhost:8080`. */
  baseUrl: string;
  /** Sent as `Authorization: Bearer <apiKey>` when set. */
  apiKey?: string;
  /** A fetch implementation (default: the global one). */
  fetch?: typeof fetch;
  retry?: RetryOptions;
  /** Extra headers on every request. */
  headers?: Record<string, string>;
}

export interface RequestOptions {
  signal?: AbortSignal;
}

export interface SubmitOptions extends RequestOptions {
  /** Default: a fresh random key, so the client's own retries never submit twice. `false`: send none. */
  idempotencyKey?: string | false;
}

export interface FollowOptions extends RequestOptions {
  /** Start after this event seq (0 or absent: from the first event). */
  after?: number;
  /**
   * Reconnect when nothing (not even a keep-alive comment) arrives for this long
   * (default 45 s: three of the gateway's 15 s keep-alives).
   */
  idleTimeoutMs?: number;
  /** Give up when no connection succeeds for this long (default 120 s). */
  reconnectForMs?: number;
  /** Called before each reconnect, with the seq it resumes after. */
  onReconnect?: (info: { after: number; attempt: number; error?: unknown }) => void;
}

export interface RunOptions extends SubmitOptions, Omit<FollowOptions, "after"> {
  executor?: SubmitTaskBody["executor"];
  metadata?: SubmitTaskBody["metadata"];
  limits?: SubmitTaskBody["limits"];
  /** Every event of the run, as it arrives. */
  onEvent?: (event: TaskEvent) => void | Promise<void>;
}

export interface RunResult {
  task: TaskView;
  status: TaskStatus;
  /** The final answer's text (completed tasks). */
  text: string | null;
  events: TaskEvent[];
}

const TERMINAL = new Set<string>(["completed", "failed", "canceled"]);
const RETRY_STATUSES = new Set([429, 503]);

/** True for the status event that ends a task's stream. */
export function isTerminalEvent(e: TaskEvent): boolean {
  return e.type === "status" && TERMINAL.has((e.data as { status?: string }).status ?? "");
}

export class SwitchyardClient {
  readonly baseUrl: string;
  readonly tasks: TasksApi;
  readonly approvals: ApprovalsApi;
  readonly toolResults: ToolResultsApi;
  readonly agents: AgentsApi;
  readonly runners: RunnersApi;
  readonly #fetch: typeof fetch;
  readonly #headers: Record<string, string>;
  readonly #retry: Required<RetryOptions>;

  constructor(opts: ClientOptions) {
    if (!opts?.baseUrl) throw new TypeError("baseUrl is required, e.g. http://localhost:8080");
    this.baseUrl = opts.baseUrl.replace(/\/+$/, "");
    this.#fetch = opts.fetch ?? ((...args) => globalThis.fetch(...args));
    this.#headers = { ...opts.headers, ...(opts.apiKey ? { authorization: `Bearer ${opts.apiKey}` } : {}) };
    this.#retry = { attempts: 5, baseDelayMs: 200, maxDelayMs: 10_000, ...opts.retry };
    this.tasks = new TasksApi(this);
    this.approvals = new ApprovalsApi(this);
    this.toolResults = new ToolResultsApi(this);
    this.agents = new AgentsApi(this);
    this.runners = new RunnersApi(this);
  }

  /** `GET /readyz`: whether the gateway reaches NATS and Redis. */
  health(opts: RequestOptions = {}): Promise<Health> {
    return this.request<Health>("GET", "/readyz", { ...opts, acceptStatus: [503] });
  }

  /**
   * One JSON request. `idempotent`: safe to repeat after a connection failure whose outcome is
   * unknown (GET, PUT, DELETE, a submit with a key); anything else is retried only when the
   * server said 503/429 or the connection was refused before the request was sent.
   */
  async request<T>(
    method: string,
    path: string,
    opts: RequestOptions & { body?: unknown; headers?: Record<string, string>; idempotent?: boolean; acceptStatus?: number[] } = {},
  ): Promise<T> {
    const idempotent = opts.idempotent ?? (method === "GET" || method === "PUT" || method === "DELETE");
    const headers: Record<string, string> = { accept: "application/json", ...this.#headers, ...opts.headers };
    if (opts.body !== undefined) headers["content-type"] = "application/json";
    for (let attempt = 1; ; attempt++) {
      let res: Response;
      try {
        res = await this.#fetch(this.baseUrl + path, {
          method,
          headers,
          ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
          ...(opts.signal ? { signal: opts.signal } : {}),
        });
      } catch (err) {
        if (opts.signal?.aborted) throw err;
        const safe = idempotent || connectionRefused(err);
        if (!safe || attempt >= this.#retry.attempts) {
          throw new SwitchyardApiError(0, "network", `${method} ${path}: ${describeNetworkError(err)}`, undefined, { cause: err });
        }
        await sleep(this.backoff(attempt, null), opts.signal);
        continue;
      }
      const body = await readBody(res);
      if (res.ok || opts.acceptStatus?.includes(res.status)) return body as T;
      if (RETRY_STATUSES.has(res.status) && attempt < this.#retry.attempts) {
        await sleep(this.backoff(attempt, res.headers.get("retry-after")), opts.signal);
        continue;
      }
      throw errorFromBody(res.status, body);
    }
  }

  /** The wait before retry number `attempt`: Retry-After when given, else exponential with jitter. */
  backoff(attempt: number, retryAfter: string | null): number {
    const { baseDelayMs, maxDelayMs } = this.#retry;
    const hinted = parseRetryAfter(retryAfter);
    if (hinted !== null) return Math.min(hinted, maxDelayMs);
    const exp = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1));
    return exp / 2 + Math.random() * (exp / 2);
  }

  /** @internal Opens the event stream once; the caller handles reconnects. */
  openEvents(id: string, after: number, signal: AbortSignal): Promise<Response> {
    const headers: Record<string, string> = { accept: "text/event-stream", ...this.#headers };
    if (after > 0) headers["last-event-id"] = String(after);
    return this.#fetch(`${this.baseUrl}/v1/tasks/${encodeURIComponent(id)}/events`, { headers, signal });
  }
}

class TasksApi {
  readonly #c: SwitchyardClient;
  constructor(c: SwitchyardClient) {
    this.#c = c;
  }

  /** `POST /v1/tasks`. Sends an Idempotency-Key (a fresh one unless given), so retries are safe. */
  submit(body: SubmitTaskBody, opts: SubmitOptions = {}): Promise<SubmitTaskResponse> {
    const key = opts.idempotencyKey === undefined ? randomKey() : opts.idempotencyKey;
    return this.#c.request<SubmitTaskResponse>("POST", "/v1/tasks", {
      body,
      idempotent: key !== false,
      ...(key !== false ? { headers: { "idempotency-key": key } } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
  }

  get(id: string, opts: RequestOptions = {}): Promise<TaskView> {
    return this.#c.request<TaskView>("GET", `/v1/tasks/${encodeURIComponent(id)}`, opts);
  }

  /** One page, newest first; pass `next_cursor` as `cursor` for the next. */
  list(query: ListTasksQuery = {}, opts: RequestOptions = {}): Promise<ListTasksResponse> {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null) qs.set(k, String(v));
    const s = qs.toString();
    return this.#c.request<ListTasksResponse>("GET", `/v1/tasks${s ? `?${s}` : ""}`, opts);
  }

  /** Every task matching `query`, page by page. */
  async *listAll(query: Omit<ListTasksQuery, "cursor"> = {}, opts: RequestOptions = {}): AsyncGenerator<TaskView> {
    let cursor: string | undefined;
    do {
      const page = await this.list({ ...query, ...(cursor ? { cursor } : {}) }, opts);
      yield* page.items;
      cursor = page.next_cursor ?? undefined;
    } while (cursor);
  }

  /** `POST /v1/tasks/:id/cancel` (idempotent: the gateway de-duplicates cancels per task). */
  cancel(id: string, opts: RequestOptions & { reason?: string } = {}): Promise<CancelResponse> {
    return this.#c.request<CancelResponse>("POST", `/v1/tasks/${encodeURIComponent(id)}/cancel`, {
      body: opts.reason ? { reason: opts.reason } : {},
      idempotent: true,
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
  }

  /**
   * The task's events, from the start (or after `after`) to its terminal status event, as an
   * async iterator. A dropped connection or a gateway restart is resumed with Last-Event-ID;
   * events are de-duplicated by seq, so none is yielded twice and none is skipped. Ends after
   * the terminal status event; break out of the loop (or abort `signal`) to stop early.
   */
  async *follow(id: string, opts: FollowOptions = {}): AsyncGenerator<TaskEvent, void, undefined> {
    let last = opts.after ?? 0;
    const idleMs = opts.idleTimeoutMs ?? 45_000;
    const reconnectForMs = opts.reconnectForMs ?? 120_000;
    let failingSince: number | null = null;
    let reconnects = 0;
    for (;;) {
      if (opts.signal?.aborted) throw opts.signal.reason ?? new Error("aborted");
      const ac = new AbortController();
      const onAbort = () => ac.abort(opts.signal?.reason);
      opts.signal?.addEventListener("abort", onAbort, { once: true });
      let error: unknown;
      let progressed = false;
      let cleanEnd = false;
      try {
        const res = await this.#c.openEvents(id, last, ac.signal);
        if (!res.ok) {
          const body = await readBody(res);
          // 503/429/5xx: the gateway is starting, overloaded or cannot reach the bus: try again.
          if (res.status === 429 || res.status >= 500) {
            error = errorFromBody(res.status, body);
          } else {
            throw errorFromBody(res.status, body);
          }
        } else if (res.body) {
          failingSince = null;
          const queue: TaskEvent[] = [];
          let parseError: unknown;
          const parser = createParser({
            onEvent(m) {
              try {
                const e = JSON.parse(m.data) as TaskEvent;
                const seq = m.id ? Number(m.id) : e.seq;
                queue.push({ ...e, seq });
              } catch (err) {
                parseError ??= err;
              }
            },
          });
          const reader = res.body.getReader();
          const decoder = new TextDecoder();
          let idle: ReturnType<typeof setTimeout> | undefined;
          const arm = () => {
            clearTimeout(idle);
            idle = setTimeout(() => ac.abort(new Error(`no data for ${idleMs} ms`)), idleMs);
          };
          try {
            arm();
            for (;;) {
              const { done, value } = await reader.read();
              if (done) {
                cleanEnd = true;
                break;
              }
              arm();
              parser.feed(decoder.decode(value, { stream: true }));
              if (parseError) throw new SwitchyardApiError(0, "protocol", `unreadable event data: ${String(parseError)}`);
              while (queue.length > 0) {
                const e = queue.shift() as TaskEvent;
                if (!(e.seq > last)) continue; // already yielded (a resume overlapped)
                last = e.seq;
                progressed = true;
                yield e;
                if (isTerminalEvent(e)) return;
              }
            }
          } finally {
            clearTimeout(idle);
            await reader.cancel().catch(() => undefined);
          }
        }
      } catch (err) {
        if (opts.signal?.aborted) throw err;
        if (err instanceof SwitchyardApiError && err.status >= 400 && err.status < 500 && err.status !== 429) throw err;
        if (err instanceof SwitchyardApiError && err.code === "protocol") throw err;
        error = err;
      } finally {
        opts.signal?.removeEventListener("abort", onAbort);
        ac.abort();
      }
      // The stream ended before the terminal event. A clean end with nothing new can mean the
      // task finished and its events expired, or the client already holds the last event: ask.
      if (cleanEnd && !progressed) {
        const task = await this.get(id, opts.signal ? { signal: opts.signal } : {});
        if (TERMINAL.has(task.status)) return;
      }
      if (progressed) failingSince = null;
      failingSince ??= Date.now();
      if (Date.now() - failingSince > reconnectForMs) {
        throw new SwitchyardApiError(0, "network", `following task ${id}: no connection for ${reconnectForMs} ms`, undefined, { cause: error });
      }
      reconnects++;
      opts.onReconnect?.({ after: last, attempt: reconnects, ...(error !== undefined ? { error } : {}) });
      await sleep(progressed ? 100 : this.#c.backoff(Math.min(reconnects, 8), null), opts.signal);
    }
  }

  /** Submit, follow to the end, and return the outcome (it does not throw for a failed task). */
  async run(agent: string, input: TaskInput, opts: RunOptions = {}): Promise<RunResult> {
    const { executor, metadata, limits, onEvent, idempotencyKey, ...follow } = opts;
    const submitted = await this.submit(
      { agent, input, ...(executor ? { executor } : {}), ...(metadata ? { metadata } : {}), ...(limits ? { limits } : {}) },
      { ...(idempotencyKey !== undefined ? { idempotencyKey } : {}), ...(opts.signal ? { signal: opts.signal } : {}) },
    );
    const events: TaskEvent[] = [];
    for await (const e of this.follow(submitted.id, follow)) {
      events.push(e);
      await onEvent?.(e);
    }
    const task = await this.get(submitted.id, opts.signal ? { signal: opts.signal } : {});
    return { task, status: task.status, text: task.result?.text ?? null, events };
  }
}

class ApprovalsApi {
  readonly #c: SwitchyardClient;
  constructor(c: SwitchyardClient) {
    this.#c = c;
  }
  /** `POST /v1/tasks/:id/approvals`: the first answer for a call stands (409 `already_decided` after). */
  decide(taskId: string, body: ApprovalBody, opts: RequestOptions = {}): Promise<AnswerResponse> {
    return this.#c.request<AnswerResponse>("POST", `/v1/tasks/${encodeURIComponent(taskId)}/approvals`, { body, ...opts });
  }
  approve(taskId: string, callId: string, opts: RequestOptions & { reason?: string } = {}): Promise<AnswerResponse> {
    return this.decide(taskId, { call_id: callId, decision: "approve", ...(opts.reason ? { reason: opts.reason } : {}) }, opts);
  }
  reject(taskId: string, callId: string, opts: RequestOptions & { reason?: string } = {}): Promise<AnswerResponse> {
    return this.decide(taskId, { call_id: callId, decision: "reject", ...(opts.reason ? { reason: opts.reason } : {}) }, opts);
  }
}

class ToolResultsApi {
  readonly #c: SwitchyardClient;
  constructor(c: SwitchyardClient) {
    this.#c = c;
  }
  /** `POST /v1/tasks/:id/tool-results`: an external tool's result (or error) for a parked call. */
  post(taskId: string, body: ToolResultBody, opts: RequestOptions = {}): Promise<AnswerResponse> {
    return this.#c.request<AnswerResponse>("POST", `/v1/tasks/${encodeURIComponent(taskId)}/tool-results`, { body, ...opts });
  }
}

class AgentsApi {
  readonly #c: SwitchyardClient;
  constructor(c: SwitchyardClient) {
    this.#c = c;
  }
  async list(opts: RequestOptions = {}): Promise<AgentDef[]> {
    return (await this.#c.request<{ items: AgentDef[] }>("GET", "/v1/agents", opts)).items;
  }
  get(name: string, opts: RequestOptions = {}): Promise<AgentDef> {
    return this.#c.request<AgentDef>("GET", `/v1/agents/${encodeURIComponent(name)}`, opts);
  }
  /** Creates or replaces the agent; returns the stored definition (defaults filled in). */
  put(name: string, def: AgentDefInput, opts: RequestOptions = {}): Promise<AgentDef> {
    return this.#c.request<AgentDef>("PUT", `/v1/agents/${encodeURIComponent(name)}`, { body: def, ...opts });
  }
  delete(name: string, opts: RequestOptions = {}): Promise<unknown> {
    return this.#c.request<unknown>("DELETE", `/v1/agents/${encodeURIComponent(name)}`, opts);
  }
}

class RunnersApi {
  readonly #c: SwitchyardClient;
  constructor(c: SwitchyardClient) {
    this.#c = c;
  }
  /** Live runner nodes with their kinds and slots. */
  async list(opts: RequestOptions = {}): Promise<RunnerNode[]> {
    return (await this.#c.request<{ items: RunnerNode[] }>("GET", "/v1/runners", opts)).items;
  }
  /** Runner kinds: nodes, free slots, queue depth, config schema. */
  async kinds(opts: RequestOptions = {}): Promise<RunnerKindInfo[]> {
    return (await this.#c.request<{ items: RunnerKindInfo[] }>("GET", "/v1/runner-kinds", opts)).items;
  }
}

/** A client for the gateway at `baseUrl`. */
export function createClient(opts: ClientOptions): SwitchyardClient {
  return new SwitchyardClient(opts);
}

async function readBody(res: Response): Promise<unknown> {
  const text = await res.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Retry-After as milliseconds: delta-seconds or an HTTP date; null when absent or unreadable. */
export function parseRetryAfter(v: string | null): number | null {
  if (v === null || v.trim() === "") return null;
  if (/^\d+(\.\d+)?$/.test(v.trim())) return Math.round(Number(v.trim()) * 1000);
  const at = Date.parse(v);
  return Number.isNaN(at) ? null : Math.max(0, at - Date.now());
}

/** The system error under fetch's "fetch failed" (undici puts it in `cause`, or in `cause.errors` when several addresses failed). */
function rootCause(err: unknown): { code?: string; message?: string } | undefined {
  const cause = (err as { cause?: { code?: string; message?: string; errors?: { code?: string; message?: string }[] } } | null)?.cause;
  return cause?.code ? cause : (cause?.errors?.[0] ?? cause);
}

function connectionRefused(err: unknown): boolean {
  return rootCause(err)?.code === "ECONNREFUSED";
}

function describeNetworkError(err: unknown): string {
  const cause = rootCause(err);
  if (cause?.code) return `${cause.code}${cause.message ? ` (${cause.message})` : ""}`;
  return cause?.message ? `${(err as Error).message}: ${cause.message}` : String((err as Error)?.message ?? err);
}

function randomKey(): string {
  return globalThis.crypto.randomUUID();
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal?.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
