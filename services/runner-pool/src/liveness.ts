// Liveness in Redis: this node's heartbeat record (with a TTL) and the lease of every run it
// holds, renewed together in one pipeline per beat. A node that dies stops renewing; its
// record and leases lapse on their own.
import { type RunnerNode, redisKeys } from "@switchyard/contracts";
import type { Logger, Redis } from "@switchyard/runtime";

/**
 * Renews many leases in one script call: KEYS are lease keys, ARGV their run ids then the TTL.
 * A lease is renewed only if it is missing (Redis restarted empty: re-assert it) or still ours;
 * returns the 1-based indexes of the ones another run holds (the kernel fenced this run and
 * gave the task away). One call per LEASE_CHUNK leases, not one EVAL per lease: with 10,000
 * held runs that took the runner from 18.5% to 4.3% of a core (BENCHMARKS.md, proposal D).
 */
const RENEW_LEASES =
  "local lost = {} local ttl = ARGV[#ARGV] for i, k in ipairs(KEYS) do local v = redis.call('get', k) if v == false or v == ARGV[i] then redis.call('set', k, ARGV[i], 'px', ttl) else lost[#lost + 1] = i end end return lost";
const LEASE_CHUNK = 500;

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
    const chunks: [string, string][][] = [];
    for (let i = 0; i < leases.length; i += LEASE_CHUNK) chunks.push(leases.slice(i, i + LEASE_CHUNK));
    for (const chunk of chunks) {
      p.eval(RENEW_LEASES, chunk.length, ...chunk.map(([taskId]) => redisKeys.lease(taskId)), ...chunk.map(([, runId]) => runId), this.#opts.leaseTtlMs);
    }
    try {
      const results = (await p.exec()) ?? [];
      for (const [c, chunk] of chunks.entries()) {
        const [err, lost] = results[c + 2] ?? [null, []];
        if (err || !Array.isArray(lost)) continue;
        for (const i of lost as number[]) {
          const entry = chunk[i - 1];
          if (!entry) continue;
          const [taskId, runId] = entry;
          if (this.#leases.get(taskId) === runId) {
            this.#leases.delete(taskId);
            this.onLeaseLost(taskId, runId);
          }
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
