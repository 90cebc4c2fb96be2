// The task lifecycle (ARCHITECTURE.md §5): every status change goes through `transition`, which
// refuses illegal moves; terminal statuses never change again.
import { canTransition, type TaskRecord, type TaskStatus } from "@switchyard/contracts";

/** Signals a status change that is illegal given the task's current status. */
export class IllegalTransitionError extends Error {
  override readonly name = "IllegalTransitionError";
  readonly code = "illegal_transition";
  readonly from: TaskStatus;
  readonly to: TaskStatus;
  constructor(from: TaskStatus, to: TaskStatus) {
    super(`illegal transition ${from} → ${to}`);
    this.from = from;
    this.to = to;
  }
}

export function transition(task: TaskRecord, to: TaskStatus, patch: Partial<TaskRecord> = {}, now = new Date().toISOString()): TaskRecord {
  if (!canTransition(task.status, to)) throw new IllegalTransitionError(task.status, to);
  const terminal = to === "completed" || to === "failed" || to === "canceled";
  return { ...task, ...patch, status: to, updated_at: now, ...(terminal ? { finished_at: now } : {}) };
}
