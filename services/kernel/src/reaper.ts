// The reaper: knows the unfinished tasks and acts on time. A running task whose Redis lease has
// been missing for LEASE_GRACE_MS is declared lost; a task past its deadline fails; a queued
// task whose kind no live node has served for QUEUE_TIMEOUT_MS fails; a parked task whose
// approval timed out (its `wait_until`, stored with the record, so it survives kernel restarts)
// has it rejected or fails. While Redis is unreachable no lease verdict is made, and the grace
// period starts over once it answers (runners re-assert their leases every beat).
//
// Its view of the unfinished tasks comes from KV sy_tasks itself (ARCHITECTURE.md §3): every
// record write carries the task's view in a header, and the reaper reads the bucket's stream
// headers-only (the last write of every task at start, then every new one), keeping in memory
// only the tasks that are not finished. A verdict is not applied here: it is a command on
// SY_CMD (`sy.cmd.reap`) that a kernel applies and acks after its effects, so a kernel that
// dies in between leaves it to be redelivered (ARCHITECTURE.md §5). Every replica runs a
// reaper; a verdict's message id makes the replicas' copies one command.
import { DeliverPolicy, type JsMsg } from "@nats-io/jetstream";
import {
  ActiveTask,
  isTerminal,
  type ReaperVerdict,
  redisKeys,
  subjects,
  TASK_RECORDS_STREAM,
  TaskRecordHeaders,
  type TaskStatus,
} from "@switchyard/contracts";
import { encodeJson, type JetStreamClient, type Logger, listRunnerNodes, nodesServing, type Redis } from "@switchyard/runtime";
import { activeView, type TaskStore } from "./task-store.ts";

export interface ReaperOptions {
  leaseGraceMs: number;
  intervalMs: number;
  /** 0: queued tasks wait forever. */
  queueTimeoutMs: number;
  /** TASK_RETENTION_HOURS: a record unchanged for longer has expired from the bucket. */
  retentionMs: number;
}

/** A verdict not acted on (its task's view unchanged) is sent again after this long. */
const RESEND_MS = 30_000;
/** Records written without the view header (by a kernel before it existed) are read, this many at once. */
const LEGACY_READS = 8;
const RECORD_PREFIX = subjects.taskRecord("x").slice(0, -1);

export class Reaper {
  readonly #active = new Map<string, ActiveTask>();
  readonly #missingSince = new Map<string, number>();
  /** The last verdict sent per task (its key and when), so a tick does not send it again. */
  readonly #sent = new Map<string, { key: string; at: number }>();
  /** Tasks whose last write has no view header: the stream sequence of that write. */
  readonly #legacy = new Map<string, number>();
  readonly #legacyQueue: string[] = [];
  #legacyReaders = 0;
  readonly #js: JetStreamClient;
  readonly #store: TaskStore;
  readonly #redis: Redis;
  readonly #log: Logger;
  readonly #opts: ReaperOptions;
  #timer: NodeJS.Timeout | null = null;
  #stopWatch: (() => void) | null = null;
  #ticking = false;
  /** Resolves once the view has read every record the bucket held at start. */
  readonly caughtUp: Promise<{ records: number; ms: number }>;
  #caughtUp!: (v: { records: number; ms: number }) => void;
  stats = { lost: 0, deadlines: 0, queueTimeouts: 0, approvalTimeouts: 0, redisUnavailable: 0, legacyReads: 0 };

  /** `store`: reads a record written without the view header. */
  constructor(deps: { js: JetStreamClient; store: TaskStore; redis: Redis; log: Logger }, opts: ReaperOptions) {
    this.#js = deps.js;
    this.#store = deps.store;
    this.#redis = deps.redis;
    this.#log = deps.log;
    this.#opts = opts;
    this.caughtUp = new Promise((r) => (this.#caughtUp = r));
  }

  async start(): Promise<void> {
    const started = Date.now();
    // An ordered consumer: the last write of every task, then every new write, bodies left out.
    const consumer = await this.#js.consumers.get(TASK_RECORDS_STREAM, {
      filter_subjects: subjects.taskRecordsAll,
      deliver_policy: DeliverPolicy.LastPerSubject,
      headers_only: true,
    });
    const messages = await consumer.consume({ max_messages: 1024 });
    let records = 0;
    let caughtUp = false;
    const done = () => {
      caughtUp = true;
      this.#log.info({ records, tracked: this.#active.size, ms: Date.now() - started }, "reaper: view of unfinished tasks read from sy_tasks");
      this.#caughtUp({ records, ms: Date.now() - started });
    };
    if ((await consumer.info(true)).num_pending === 0) done();
    let stopped = false;
    this.#stopWatch = () => {
      stopped = true;
      void messages.close();
    };
    void (async () => {
      try {
        for await (const m of messages) {
          this.#onRecord(m);
          if (caughtUp) continue;
          records++;
          if (m.info.pending === 0) done();
        }
      } finally {
        if (!stopped) this.#log.error("reaper: the view of unfinished tasks stopped following sy_tasks; restart the kernel");
      }
    })();
    this.#timer = setInterval(() => void this.tick(), this.#opts.intervalMs);
  }

  #onRecord(m: JsMsg): void {
    const id = m.subject.slice(RECORD_PREFIX.length);
    const op = m.headers?.get("KV-Operation");
    if (op === "DEL" || op === "PURGE" || m.headers?.has("Nats-Marker-Reason")) {
      this.#forget(id);
      return;
    }
    const raw = m.headers?.get(TaskRecordHeaders.view);
    const parsed = raw ? safeView(raw) : null;
    if (parsed === "finished") {
      this.#forget(id);
      return;
    }
    if (!parsed) {
      this.#legacy.set(id, m.seq);
      this.#legacyQueue.push(id);
      this.#readLegacy();
      return;
    }
    this.#legacy.delete(id);
    this.#see(parsed);
  }

  #see(view: ActiveTask): void {
    if (isTerminal(view.status)) this.#forget(view.task_id);
    else this.#active.set(view.task_id, view);
  }

  #forget(id: string): void {
    this.#active.delete(id);
    this.#legacy.delete(id);
    this.#sent.delete(id);
    this.#missingSince.delete(id);
  }

  /** Reads records that carry no view (their writer predates it) and derives it from the record. */
  #readLegacy(): void {
    while (this.#legacyReaders < LEGACY_READS && this.#legacyQueue.length > 0) {
      const id = this.#legacyQueue.shift() as string;
      const seq = this.#legacy.get(id);
      if (seq === undefined) continue;
      this.#legacyReaders++;
      this.stats.legacyReads++;
      void this.#store
        .get(id)
        .then(
          (stored) => {
            if (this.#legacy.get(id) !== seq) return; // a newer write came with its view
            this.#legacy.delete(id);
            if (stored) this.#see(activeView(stored.task));
            else this.#forget(id);
          },
          (err: unknown) => {
            this.#log.warn({ err: (err as Error).message, task_id: id }, "reaper: record read failed; retried");
            if (this.#legacy.get(id) === seq) this.#legacyQueue.push(id);
          },
        )
        .finally(() => {
          this.#legacyReaders--;
          this.#readLegacy();
        });
    }
  }

  get tracked(): number {
    return this.#active.size;
  }

  /** The unfinished tasks as this replica sees them (for the metrics gauges). */
  activeTasks(): Iterable<ActiveTask> {
    return this.#active.values();
  }

  async tick(): Promise<void> {
    if (this.#ticking) return;
    this.#ticking = true;
    try {
      this.#dropExpired();
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

  /** A record unchanged for longer than the retention has left the bucket (max age), silently. */
  #dropExpired(): void {
    const oldest = Date.now() - this.#opts.retentionMs;
    for (const e of this.#active.values()) if (Date.parse(e.since) < oldest) this.#forget(e.task_id);
  }

  /**
   * Sends a verdict unless this replica sent the same one (`key`) less than RESEND_MS ago. Its
   * message id is the same on every replica within a RESEND_MS window: the stream keeps one.
   */
  async #verdict(v: ReaperVerdict, key: string): Promise<boolean> {
    const now = Date.now();
    const sent = this.#sent.get(v.task_id);
    if (sent && sent.key === key && now - sent.at < RESEND_MS) return false;
    await this.#js.publish(subjects.reap, encodeJson(v), { msgID: `${v.task_id}:reap:${key}:${Math.floor(now / RESEND_MS)}` });
    this.#sent.set(v.task_id, { key, at: now });
    return true;
  }

  async #checkDeadlines(): Promise<void> {
    const now = Date.now();
    for (const e of this.#active.values()) {
      if (
        e.deadline_at &&
        Date.parse(e.deadline_at) <= now &&
        (await this.#verdict({ v: 1, verdict: "deadline", task_id: e.task_id, attempt: e.attempt }, "deadline"))
      )
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
        (await this.#verdict(
          { v: 1, verdict: "approval_timeout", task_id: e.task_id, attempt: e.attempt },
          `approval:${e.attempt}:${Date.parse(e.wait_until)}`,
        ))
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
        const runId = e.run_id as string;
        if (await this.#verdict({ v: 1, verdict: "run_lost", task_id: e.task_id, attempt: e.attempt, run_id: runId }, `lost:${runId}`)) this.stats.lost++;
      }
    }
  }

  async #checkQueueTimeouts(): Promise<void> {
    const now = Date.now();
    const overdue = [...this.#active.values()].filter((e) => e.status === "queued" && now - Date.parse(e.since) >= this.#opts.queueTimeoutMs);
    if (overdue.length === 0) return;
    let nodes: Awaited<ReturnType<typeof listRunnerNodes>>;
    try {
      nodes = await listRunnerNodes(this.#redis);
    } catch {
      return;
    }
    for (const e of overdue) {
      // A backlog, not an orphan: some live node serves the kind and has the model's provider.
      if (nodesServing(nodes, e.runner_kind, e.provider) > 0) continue;
      const v: ReaperVerdict = { v: 1, verdict: "queue_timeout", task_id: e.task_id, attempt: e.attempt, waited_ms: now - Date.parse(e.since) };
      if (await this.#verdict(v, `queue:${e.attempt}`)) this.stats.queueTimeouts++;
    }
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#stopWatch?.();
  }
}

/** The view in a record's header; "finished" without validating the rest (most retained records are). */
function safeView(raw: string): ActiveTask | "finished" | null {
  try {
    const json = JSON.parse(raw) as { status?: unknown };
    if (typeof json?.status === "string" && isTerminal(json.status as TaskStatus)) return "finished";
    const parsed = ActiveTask.safeParse(json);
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}
