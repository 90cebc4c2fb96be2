// The AgentRunner replay cache in Redis (ARCHITECTURE.md §4): live fields of a running task and a ring
// of its last 32 critical events, for GET /v1/tasks/:id and late subscribers. Best effort:
// a failed write is logged at debug and never stops the run.
import { CRITICAL_EVENT_TYPES, CRITICAL_RING_SIZE, RUN_CACHE_TTL_AFTER_FINISH_S, redisKeys, type StoredEvent } from "@switchyard/contracts";
import type { Logger, Redis } from "@switchyard/runtime";

/** How often a stream of text deltas refreshes last_event_at. */
const DELTA_TOUCH_MS = 250;
/** While running, the cache expires on its own if the runner vanishes. */
const RUNNING_TTL_S = 24 * 3600;

export class ReplayCache {
  readonly #redis: Redis;
  readonly #key: string;
  readonly #ring: string;
  readonly #log: Logger;
  #lastTouch = 0;
  #staged: { fields: Record<string, string | number>; critical: string[]; refreshTtl: boolean } = { fields: {}, critical: [], refreshTtl: false };
  #flushScheduled = false;
  /** The run's identity, written again with every update so a Redis restarted empty refills. */
  #identity: Record<string, string | number> = {};

  constructor(redis: Redis, taskId: string, log: Logger) {
    this.#redis = redis;
    this.#key = redisKeys.run(taskId);
    this.#ring = redisKeys.runCritical(taskId);
    this.#log = log;
  }

  /** Resets the live fields for a new run and records its start in the critical ring. */
  start(fields: { run_id: string; node_id: string; started_at: string; round_count: number }, started: StoredEvent): void {
    this.#identity = { status: "running", run_id: fields.run_id, node_id: fields.node_id, started_at: fields.started_at };
    this.#exec(
      this.#redis
        .multi()
        .hdel(this.#key, "last_tool_name", "last_tool_phase", "runner_state")
        .hset(this.#key, { status: "running", ...fields, last_event_at: fields.started_at })
        .rpush(this.#ring, JSON.stringify(started))
        .ltrim(this.#ring, -CRITICAL_RING_SIZE, -1)
        .expire(this.#key, RUNNING_TTL_S)
        .expire(this.#ring, RUNNING_TTL_S),
    );
  }

  /**
   * A text or reasoning delta: neither is a critical event nor a field of the cache, so all it
   * does is move last_event_at, at most every DELTA_TOUCH_MS (no Redis work per delta).
   */
  onDelta(ts: string): void {
    const now = Date.now();
    if (now - this.#lastTouch < DELTA_TOUCH_MS) return;
    this.#lastTouch = now;
    this.#stage({ last_event_at: ts }, undefined, false);
  }

  /** An event of the run; `json` is its encoding when the caller has it already (the ring stores it). */
  onEvent(ev: StoredEvent, json?: string): void {
    if (ev.type === "text.delta" || ev.type === "reasoning.delta") {
      this.onDelta(ev.ts);
      return;
    }
    const fields: Record<string, string | number> = { ...this.#identity, last_event_at: ev.ts };
    const data = ev.data as Record<string, unknown>;
    if (ev.type === "tool.call") Object.assign(fields, { last_tool_name: String(data.tool), last_tool_phase: "begin" });
    else if (ev.type === "tool.result") Object.assign(fields, { last_tool_name: String(data.tool), last_tool_phase: data.error ? "error" : "finished" });
    else if (ev.type === "step.finish") fields.round_count = Number(data.round);
    else if (ev.type === "usage") fields.last_usage = JSON.stringify(data);
    else if (ev.type === "status") fields.status = String(data.status);
    this.#stage(fields, CRITICAL_EVENT_TYPES.has(ev.type) ? (json ?? JSON.stringify(ev)) : undefined, true);
  }

  /** Updates of one macrotask go out as one pipeline (later fields win; critical events keep their order). */
  #stage(fields: Record<string, string | number>, critical: string | undefined, refreshTtl: boolean): void {
    Object.assign(this.#staged.fields, fields);
    if (critical !== undefined) this.#staged.critical.push(critical);
    this.#staged.refreshTtl ||= refreshTtl;
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    setImmediate(() => void this.#flushStaged());
  }

  #flushStaged(): Promise<void> {
    this.#flushScheduled = false;
    const { fields, critical, refreshTtl } = this.#staged;
    this.#staged = { fields: {}, critical: [], refreshTtl: false };
    if (Object.keys(fields).length === 0 && critical.length === 0) return Promise.resolve();
    const p = this.#redis.pipeline();
    if (Object.keys(fields).length > 0) p.hset(this.#key, fields);
    if (refreshTtl) p.expire(this.#key, RUNNING_TTL_S);
    if (critical.length > 0)
      p.rpush(this.#ring, ...critical)
        .ltrim(this.#ring, -CRITICAL_RING_SIZE, -1)
        .expire(this.#ring, RUNNING_TTL_S);
    return this.#exec(p);
  }

  /** The runner kind's own view of the run (e.g. a process agent's status), shown as the task's runner_state. */
  setRunnerState(state: Record<string, unknown>): void {
    // Staged like events: several changes in one macrotask are one write.
    this.#stage({ ...this.#identity, runner_state: JSON.stringify(state), last_event_at: new Date().toISOString() }, undefined, true);
  }

  /** Writes what is staged now: before the outcome is reported, so a reader who sees the task end also sees its last runner state. */
  flush(): Promise<void> {
    return this.#flushStaged();
  }

  /** Marks how the run ended on this runner and lets the cache expire. */
  finish(runnerStatus: string): Promise<void> {
    void this.#flushStaged(); // staged updates first: the final status must win
    return this.#exec(
      this.#redis
        .pipeline()
        .hset(this.#key, { status: runnerStatus, last_event_at: new Date().toISOString() })
        .expire(this.#key, RUN_CACHE_TTL_AFTER_FINISH_S)
        .expire(this.#ring, RUN_CACHE_TTL_AFTER_FINISH_S),
    );
  }

  #exec(p: { exec(): Promise<unknown> }): Promise<void> {
    return p.exec().then(
      () => undefined,
      (err: unknown) => this.#log.debug({ err: (err as Error).message }, "replay cache write failed"),
    );
  }
}
