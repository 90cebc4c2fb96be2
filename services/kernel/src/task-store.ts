// Task records in KV `sy_tasks`, updated with compare-and-set on the revision, so several
// kernel replicas never lose an update: a conflicting write re-reads and re-applies.
import { TaskRecord } from "@switchyard/contracts";
import type { KV } from "@switchyard/runtime";

export interface StoredTask {
  task: TaskRecord;
  revision: number;
}

/** What a mutation decided: a new record to write, or nothing to change. */
export type Mutation = TaskRecord | null;

export class TaskStore {
  readonly #kv: KV;
  readonly #maxConflicts: number;
  conflicts = 0;

  constructor(kv: KV, maxConflicts = 50) {
    this.#kv = kv;
    this.#maxConflicts = maxConflicts;
  }

  async get(id: string): Promise<StoredTask | null> {
    const entry = await this.#kv.get(id);
    if (entry?.operation !== "PUT") return null;
    return { task: TaskRecord.parse(entry.json()), revision: entry.revision };
  }

  /** Creates the record; false when a record with this id exists already. */
  async create(task: TaskRecord): Promise<boolean> {
    try {
      await this.#kv.create(task.id, JSON.stringify(task));
      return true;
    } catch (err) {
      if (isConflict(err)) return false;
      throw err;
    }
  }

  /**
   * Reads the task, lets `decide` return the next record (or null for no change), and
   * writes it only if nobody wrote in between; on a conflict it starts over.
   * Returns null when the task does not exist.
   */
  async mutate(id: string, decide: (task: TaskRecord) => Mutation): Promise<{ before: TaskRecord; after: TaskRecord; changed: boolean } | null> {
    for (let i = 0; i < this.#maxConflicts; i++) {
      const current = await this.get(id);
      if (!current) return null;
      const next = decide(current.task);
      if (next === null) return { before: current.task, after: current.task, changed: false };
      try {
        await this.#kv.update(id, JSON.stringify(next), current.revision);
        return { before: current.task, after: next, changed: true };
      } catch (err) {
        if (!isConflict(err)) throw err;
        this.conflicts++;
      }
    }
    throw new Error(`task ${id}: gave up after ${this.#maxConflicts} compare-and-set conflicts`);
  }
}

function isConflict(err: unknown): boolean {
  return /wrong last sequence|key exists|10071/i.test(String((err as Error)?.message ?? err));
}
