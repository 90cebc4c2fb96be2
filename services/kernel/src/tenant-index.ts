// The per-tenant task index in Redis (docs/SECURITY.md, "Index and retention"): a sorted set of
// each tenant's task ids (every score 0, so ids — UUIDv7 — order by creation time) that
// `GET /v1/tasks` reads one page of, and a set of each tenant's unfinished tasks (the gateway's
// running-tasks quota). The kernel is the only writer of task state, so it keeps both.
//
// Writes are best effort and not awaited on the hot path (Redis holds only rebuildable data): a
// kernel that finds the index missing (Redis restarted empty) rebuilds it from KV sy_tasks.
import { isTerminal, redisKeys, TaskRecord, taskIdPrefixAt } from "@switchyard/contracts";
import type { KV, Logger, Redis } from "@switchyard/runtime";

export class TenantIndex {
  readonly #redis: Redis;
  readonly #retentionMs: number;
  readonly #log: Logger;
  #warned = false;

  constructor(redis: Redis, retentionMs: number, log: Logger) {
    this.#redis = redis;
    this.#retentionMs = retentionMs;
    this.#log = log;
  }

  /** Records the task's state: listed (always), unfinished or not. One pipelined round trip, not awaited. */
  note(t: TaskRecord): void {
    const p = this.#redis.pipeline();
    this.#add(p, t);
    // A new task trims its tenant's ids older than the retention (their records have expired).
    if (t.status === "queued" && t.attempt === 1) p.zremrangebylex(redisKeys.tenantTasks(t.tenant), "-", `(${taskIdPrefixAt(Date.now() - this.#retentionMs)}`);
    p.exec().then(
      () => {
        this.#warned = false;
      },
      (err: unknown) => {
        if (!this.#warned) this.#log.warn({ err: (err as Error).message }, "task index not updated: Redis is unreachable");
        this.#warned = true;
      },
    );
  }

  #add(p: ReturnType<Redis["pipeline"]>, t: TaskRecord): void {
    p.zadd(redisKeys.tenantTasks(t.tenant), "NX", 0, t.id);
    if (isTerminal(t.status)) p.srem(redisKeys.tenantActive(t.tenant), t.id);
    else p.sadd(redisKeys.tenantActive(t.tenant), t.id);
  }

  /** Rebuilds the index from every stored task when Redis has lost it. Idempotent; several kernels may run it at once. */
  async rebuildIfMissing(tasks: KV): Promise<void> {
    if ((await this.#redis.exists(redisKeys.taskIndexBuilt)) === 1) return;
    const started = Date.now();
    let n = 0;
    let p = this.#redis.pipeline();
    for await (const key of await tasks.keys()) {
      const e = await tasks.get(key);
      const parsed = e?.operation === "PUT" ? TaskRecord.safeParse(e.json()) : null;
      if (!parsed?.success) continue;
      this.#add(p, parsed.data);
      if (++n % 500 === 0) {
        await p.exec();
        p = this.#redis.pipeline();
      }
    }
    p.set(redisKeys.taskIndexBuilt, new Date().toISOString());
    await p.exec();
    this.#log.info({ tasks: n, ms: Date.now() - started }, "task index rebuilt from sy_tasks");
  }
}
