// Liveness in Redis: this node's heartbeat record (with a TTL) and the lease of every run it
// holds, renewed together in one pipeline per beat. A node that dies stops renewing; its
// record and leases lapse on their own.
import { type RunnerNode, redisKeys } from "@switchyard/contracts";
import type { Logger, Redis } from "@switchyard/runtime";

/**
 * Renews a lease only if it is missing (Redis restarted empty: re-assert it) or still ours.
 * Returns 0 when another run holds it: the kernel fenced this run and gave the task away.
 */
const RENEW_LEASE =
  "local v = redis.call('get', KEYS[1]) if v == false or v == ARGV[1] then redis.call('set', KEYS[1], ARGV[1], 'px', ARGV[2]) return 1 end return 0";

/** Deletes a lease only if it still belongs to this run. */
const RELEASE_LEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

export interface LivenessOptions {
  heartbeatMs: number;
  nodeTtlMs: number;
  leaseTtlMs: number;
}

export class Liveness {
  readonly #redis: Redis;
  readonly #log: Logger;
  readonly #opts: LivenessOptions;
  readonly #leases = new Map<string, string>();
  readonly #node: () => RunnerNode;
  /** Called when a run's lease is held by another run: the run must be abandoned. */
  onLeaseLost: (taskId: string, runId: string) => void = () => undefined;
  #timer: NodeJS.Timeout | null = null;

  constructor(redis: Redis, node: () => RunnerNode, opts: LivenessOptions, log: Logger) {
    this.#redis = redis;
    this.#node = node;
    this.#opts = opts;
    this.#log = log;
  }

  start(): void {
    const period = Math.min(this.#opts.heartbeatMs, Math.floor(this.#opts.leaseTtlMs / 3));
    void this.beat();
    this.#timer = setInterval(() => void this.beat(), period);
  }

  /** One heartbeat: node record, node set, and every lease this node holds. */
  async beat(): Promise<void> {
    const node = this.#node();
    const p = this.#redis.pipeline().set(redisKeys.node(node.id), JSON.stringify(node), "PX", this.#opts.nodeTtlMs).sadd(redisKeys.nodes, node.id);
    const leases = [...this.#leases];
    for (const [taskId, runId] of leases) p.eval(RENEW_LEASE, 1, redisKeys.lease(taskId), runId, this.#opts.leaseTtlMs);
    try {
      const results = (await p.exec()) ?? [];
      for (const [i, [taskId, runId]] of leases.entries()) {
        const [err, renewed] = results[i + 2] ?? [null, 1];
        if (!err && renewed === 0 && this.#leases.get(taskId) === runId) {
          this.#leases.delete(taskId);
          this.onLeaseLost(taskId, runId);
        }
      }
    } catch (err) {
      this.#log.warn({ err: (err as Error).message }, "heartbeat failed");
    }
  }

  acquireLease(taskId: string, runId: string): void {
    this.#leases.set(taskId, runId);
    this.#redis.set(redisKeys.lease(taskId), runId, "PX", this.#opts.leaseTtlMs).catch((err: unknown) => {
      this.#log.warn({ err: (err as Error).message, task_id: taskId }, "lease write failed");
    });
  }

  async releaseLease(taskId: string, runId: string): Promise<void> {
    this.#leases.delete(taskId);
    await this.#redis.eval(RELEASE_LEASE, 1, redisKeys.lease(taskId), runId).catch(() => undefined);
  }

  get leaseCount(): number {
    return this.#leases.size;
  }

  async stop(nodeId: string): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    await this.#redis
      .multi()
      .del(redisKeys.node(nodeId))
      .srem(redisKeys.nodes, nodeId)
      .exec()
      .catch(() => undefined);
  }
}
