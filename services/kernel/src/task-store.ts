// Task records in KV `sy_tasks`, updated with compare-and-set on the revision, so several
// kernel replicas never lose an update: a conflicting write re-reads and re-applies.
// Every write carries the reaper's view of the task in a header (ARCHITECTURE.md §3), so the
// reaper reads the bucket headers-only and no second write keeps an index of unfinished tasks.
import { headers } from "@nats-io/transport-node";
import { type ActiveTask, isTerminal, modelProvider, type PendingRound, subjects, TaskRecord, TaskRecordHeaders, unanswered } from "@switchyard/contracts";
import { isWrongLastSequence, type JetStreamClient, type KV } from "@switchyard/runtime";

export interface StoredTask {
  task: TaskRecord;
  revision: number;
  /** Size of the stored JSON. */
  bytes: number;
}

/** Records larger than this (long conversations) are not kept in memory between writes. */
const RECENT_MAX_RECORD_BYTES = 64 * 1024;

/** What a mutation decided: a new record to write, or nothing to change. */
export type Mutation = TaskRecord | null;

/** created_at + the plan's deadline, or null when the agent has none. */
function deadlineOf(t: TaskRecord): string | null {
  const ms = t.plan?.limits.deadline_ms;
  return ms ? new Date(Date.parse(t.created_at) + ms).toISOString() : null;
}

/** When the first unanswered approval of a parked round times out, or null. */
function firstExpiry(p: PendingRound | null): string | null {
  const times = unanswered(p)
    .map((c) => c.expires_at)
    .filter((x): x is string => x !== null)
    .sort();
  return times[0] ?? null;
}

/** What the reaper needs of a record (the `Sy-Task-View` header of its write). */
export function activeView(t: TaskRecord): ActiveTask {
  return {
    task_id: t.id,
    status: t.status,
    attempt: t.attempt,
    run_id: t.run_id,
    runner_kind: t.runner_kind,
    since: t.updated_at,
    deadline_at: deadlineOf(t),
    wait_until: t.status === "input_required" ? firstExpiry(t.pending) : null,
    provider: t.plan?.agent_kind === "llm" ? modelProvider(t.plan.model) : null,
  };
}

export class TaskStore {
  readonly #kv: KV;
  readonly #js: JetStreamClient;
  readonly #maxConflicts: number;
  readonly #maxBytes: number;
  /**
   * Records this kernel wrote last (oldest first), so the next change to a task can try its
   * compare-and-set without reading first. Another replica's write makes the try fail, and
   * then the record is read; a stale copy is never trusted to decide "no change".
   */
  readonly #recent = new Map<string, StoredTask>();
  readonly #recentMax: number;
  conflicts = 0;

  /**
   * `kv`: the bucket, for reads; `js`: for writes (to the bucket's subjects, with headers).
   * `maxBytes`: the largest record NATS accepts (its max_payload, less room for headers).
   */
  constructor(kv: KV, js: JetStreamClient, opts: { maxConflicts?: number; maxBytes?: number; recentMax?: number } = {}) {
    this.#kv = kv;
    this.#js = js;
    this.#maxConflicts = opts.maxConflicts ?? 50;
    this.#maxBytes = opts.maxBytes ?? 1024 * 1024 - 4096;
    this.#recentMax = opts.recentMax ?? 4096;
  }

  async get(id: string): Promise<StoredTask | null> {
    const entry = await this.#kv.get(id);
    if (entry?.operation !== "PUT") return null;
    return { task: TaskRecord.parse(entry.json()), revision: entry.revision, bytes: entry.value.byteLength };
  }

  /** Creates the record; false when a record with this id exists already. */
  async create(task: TaskRecord): Promise<boolean> {
    try {
      const body = JSON.stringify(task);
      const revision = await this.#write(task, body, 0);
      this.#remember({ task, revision, bytes: body.length });
      return true;
    } catch (err) {
      if (isWrongLastSequence(err)) return false;
      throw err;
    }
  }

  /**
   * Reads the task, lets `decide` return the next record (or null for no change), and
   * writes it only if nobody wrote in between; on a conflict it starts over.
   * Returns null when the task does not exist.
   *
   * `noChangeOnCopy`: asked after a "no change" decided on the copy this kernel wrote last;
   * true accepts it without reading the store. Only for decisions that a copy another replica
   * has since changed cannot make harmful (a round check's "proceed": a canceled or re-run
   * task's old run goes on until its abort arrives, and its reports are fenced anyway).
   */
  async mutate(
    id: string,
    decide: (task: TaskRecord) => Mutation,
    opts: { noChangeOnCopy?: () => boolean } = {},
  ): Promise<{ before: TaskRecord; after: TaskRecord; changed: boolean } | null> {
    let cached = this.#recent.get(id);
    for (let i = 0; i < this.#maxConflicts; i++) {
      const current = cached ?? (await this.get(id));
      if (!current) return null;
      const decided = decide(current.task);
      if (decided === null) {
        const acceptable = opts.noChangeOnCopy?.() ?? false;
        if (cached && !acceptable) {
          cached = undefined; // decide again on what is stored, not on our last write
          continue;
        }
        // A fresh read is as good as a write for the next no-change decision on this task
        // (another replica may have written it last: rounds come to any replica).
        if (!cached && acceptable) this.#remember(current);
        return { before: current.task, after: current.task, changed: false };
      }
      const [next, body] = this.#fit(decided);
      try {
        const revision = await this.#write(next, body, current.revision);
        this.#remember({ task: next, revision, bytes: body.length });
        return { before: current.task, after: next, changed: true };
      } catch (err) {
        if (!isWrongLastSequence(err)) throw err;
        if (cached)
          cached = undefined; // someone else wrote since: read it
        else this.conflicts++;
        this.#recent.delete(id);
      }
    }
    throw new Error(`task ${id}: gave up after ${this.#maxConflicts} compare-and-set conflicts`);
  }

  /**
   * What `kv.create` (revision 0) and `kv.update` do, plus the view header: a publish to the
   * record's subject that the stream accepts only while the subject's last sequence is
   * `revision` (a conflict is the same "wrong last sequence" error). Returns the new revision.
   */
  async #write(task: TaskRecord, body: string, revision: number): Promise<number> {
    const h = headers();
    h.set(TaskRecordHeaders.view, JSON.stringify(activeView(task)));
    const ack = await this.#js.publish(subjects.taskRecord(task.id), body, { headers: h, expect: { lastSubjectSequence: revision } });
    return ack.seq;
  }

  #remember(stored: StoredTask): void {
    const id = stored.task.id;
    this.#recent.delete(id);
    if (isTerminal(stored.task.status) || stored.bytes > RECENT_MAX_RECORD_BYTES) return; // no more changes expected, or too big to keep
    this.#recent.set(id, stored);
    if (this.#recent.size > this.#recentMax) this.#recent.delete(this.#recent.keys().next().value as string);
  }

  /**
   * A record NATS would refuse must not be retried forever (the command would be redelivered
   * while the run is lost and re-run): a finished task keeps no checkpoint, and a record still
   * too large ends the task as failed with `task_too_large`, without checkpoint and result.
   */
  #fit(task: TaskRecord): [TaskRecord, string] {
    let next = isTerminal(task.status) && task.checkpoint ? { ...task, checkpoint: null } : task;
    let body = JSON.stringify(next);
    const bytes = Buffer.byteLength(body);
    if (bytes <= this.#maxBytes) return [next, body];
    const message = `the task record would be ${bytes} bytes, more than NATS accepts (${this.#maxBytes}): its input, checkpoint or result is too large`;
    next = {
      ...next,
      status: isTerminal(task.status) && task.status !== "completed" ? task.status : "failed",
      checkpoint: null,
      result: null,
      error: { code: "task_too_large", message, retryable: false },
      finished_at: next.finished_at ?? next.updated_at,
      not_before: null,
    };
    body = JSON.stringify(next);
    return [next, body];
  }
}
