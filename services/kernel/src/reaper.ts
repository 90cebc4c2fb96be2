// The reaper: watches the index of unfinished tasks (KV sy_active) and acts on time. A
// running task whose Redis lease has been missing for LEASE_GRACE_MS is declared lost; a task
// past its deadline fails; a queued task whose kind no live node has served for
// QUEUE_TIMEOUT_MS fails; a parked task whose approval timed out (its `wait_until`, stored in
// the index, so it survives kernel restarts) has it rejected or fails. Every replica runs one; the kernel's compare-and-set makes
// concurrent verdicts harmless. While Redis is unreachable no lease verdict is made, and the
// grace period starts over once it answers (runners re-assert their leases every beat).
import { ActiveTask, redisKeys } from "@switchyard/contracts";
import { type KV, type Logger, listRunnerNodes, nodesPerKind, type Redis } from "@switchyard/runtime";
import type { Kernel } from "./kernel.ts";
import type { KeyedLock } from "./keyed-lock.ts";

export interface ReaperOptions {
  leaseGraceMs: number;
  intervalMs: number;
  /** 0: queued tasks wait forever. */
  queueTimeoutMs: number;
}

export class Reaper {
  readonly #active = new Map<string, ActiveTask>();
  readonly #missingSince = new Map<string, number>();
  readonly #kv: KV;
  readonly #redis: Redis;
  readonly #kernel: Kernel;
  readonly #log: Logger;
  readonly #lock: KeyedLock;
  readonly #opts: ReaperOptions;
  #timer: NodeJS.Timeout | null = null;
  #watch: { stop(): void } | null = null;
  #ticking = false;
  stats = { lost: 0, deadlines: 0, queueTimeouts: 0, approvalTimeouts: 0, redisUnavailable: 0 };

  /** Verdicts take the task's lock, like commands and claims: effects of one task stay in order. */
  constructor(deps: { active: KV; redis: Redis; kernel: Kernel; lock: KeyedLock; log: Logger }, opts: ReaperOptions) {
    this.#lock = deps.lock;
    this.#kv = deps.active;
    this.#redis = deps.redis;
    this.#kernel = deps.kernel;
    this.#log = deps.log;
    this.#opts = opts;
  }

  async start(): Promise<void> {
    const watch = await this.#kv.watch();
    this.#watch = watch;
    void (async () => {
      for await (const e of watch) {
        if (e.operation !== "PUT") {
          this.#active.delete(e.key);
          continue;
        }
        const parsed = ActiveTask.safeParse(e.json());
        if (parsed.success) this.#active.set(e.key, parsed.data);
      }
    })();
    this.#timer = setInterval(() => void this.tick(), this.#opts.intervalMs);
  }

  get tracked(): number {
    return this.#active.size;
  }

  /** The index of unfinished tasks as this replica sees it (for the metrics gauges). */
  activeTasks(): Iterable<ActiveTask> {
    return this.#active.values();
  }

  async tick(): Promise<void> {
    if (this.#ticking) return;
    this.#ticking = true;
    try {
      await this.#checkDeadlines();
      await this.#checkApprovalTimeouts();
      await this.#checkLeases();
      if (this.#opts.queueTimeoutMs > 0) await this.#checkQueueTimeouts();
    } catch (err) {
      this.#log.error({ err }, "reaper tick failed");
    } finally {
      this.#ticking = false;
    }
  }

  async #checkDeadlines(): Promise<void> {
    const now = Date.now();
    for (const e of this.#active.values()) {
      if (e.deadline_at && Date.parse(e.deadline_at) <= now && (await this.#lock.run(e.task_id, () => this.#kernel.deadlineExceeded(e.task_id))))
        this.stats.deadlines++;
    }
  }

  async #checkApprovalTimeouts(): Promise<void> {
    const now = Date.now();
    for (const e of this.#active.values()) {
      if (
        e.status === "input_required" &&
        e.wait_until &&
        Date.parse(e.wait_until) <= now &&
        (await this.#lock.run(e.task_id, () => this.#kernel.approvalsTimedOut(e.task_id)))
      ) {
        this.stats.approvalTimeouts++;
      }
    }
  }

  async #checkLeases(): Promise<void> {
    const running = [...this.#active.values()].filter((e) => e.status === "running" && e.run_id);
    const runningIds = new Set(running.map((e) => e.task_id));
    for (const id of this.#missingSince.keys()) if (!runningIds.has(id)) this.#missingSince.delete(id);
    if (running.length === 0) return;
    let leases: (string | null)[];
    try {
      leases = await this.#redis.mget(...running.map((e) => redisKeys.lease(e.task_id)));
    } catch {
      // No verdicts without Redis; the grace period starts over when it is back.
      this.stats.redisUnavailable++;
      this.#missingSince.clear();
      return;
    }
    const now = Date.now();
    for (const [i, e] of running.entries()) {
      if (leases[i] === e.run_id) {
        this.#missingSince.delete(e.task_id);
        continue;
      }
      const since = this.#missingSince.get(e.task_id) ?? now;
      this.#missingSince.set(e.task_id, since);
      if (now - since >= this.#opts.leaseGraceMs) {
        this.#missingSince.delete(e.task_id);
        if (await this.#lock.run(e.task_id, () => this.#kernel.runLost(e.task_id, e.run_id as string))) this.stats.lost++;
      }
    }
  }

  async #checkQueueTimeouts(): Promise<void> {
    const now = Date.now();
    const overdue = [...this.#active.values()].filter((e) => e.status === "queued" && now - Date.parse(e.since) >= this.#opts.queueTimeoutMs);
    if (overdue.length === 0) return;
    let served: Map<string, number>;
    try {
      served = nodesPerKind(await listRunnerNodes(this.#redis));
    } catch {
      return;
    }
    for (const e of overdue) {
      if ((served.get(e.runner_kind) ?? 0) > 0) continue; // a backlog, not an orphan
      if (await this.#lock.run(e.task_id, () => this.#kernel.queueTimedOut(e.task_id, e.attempt, now - Date.parse(e.since)))) this.stats.queueTimeouts++;
    }
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#watch?.stop();
  }
}
