// Waits for the kernel to confirm that a submitted task exists, so a 202 is always followed
// by a task the client can read and stream. One inbox subscription serves every request.

import type { Subscription } from "@nats-io/transport-node";
import { SubmitAccepted } from "@switchyard/contracts";
import { decodeJson, type Logger, type NatsConnection } from "@switchyard/runtime";

export class SubmitWaiter {
  readonly #prefix: string;
  readonly #pending = new Map<string, (accepted: SubmitAccepted | null) => void>();
  readonly #sub: Subscription;

  constructor(nc: NatsConnection, log: Logger) {
    this.#prefix = `_INBOX.gw-submit.${crypto.randomUUID()}`;
    this.#sub = nc.subscribe(`${this.#prefix}.*`, {
      callback: (_err, msg) => {
        const decoded = decodeJson(SubmitAccepted, msg.data);
        if (!decoded.ok) return void log.warn({ reason: decoded.reason }, "bad submit confirmation");
        const resolve = this.#pending.get(decoded.value.submitted_task_id);
        if (resolve) resolve(decoded.value);
      },
    });
  }

  /** The subject the kernel should answer on for this task id. */
  subjectFor(taskId: string): string {
    return `${this.#prefix}.${taskId}`;
  }

  /**
   * Registers interest before the submit is published; the promise settles with the
   * confirmation, or null after `timeoutMs` (the submit is durable either way).
   */
  expect(taskId: string, timeoutMs: number): { promise: Promise<SubmitAccepted | null>; cancel: () => void } {
    let timer: NodeJS.Timeout | undefined;
    const promise = new Promise<SubmitAccepted | null>((resolve) => {
      const settle = (v: SubmitAccepted | null) => {
        clearTimeout(timer);
        this.#pending.delete(taskId);
        resolve(v);
      };
      this.#pending.set(taskId, settle);
      timer = setTimeout(() => settle(null), timeoutMs);
    });
    return { promise, cancel: () => this.#pending.get(taskId)?.(null) };
  }

  close(): void {
    this.#sub.unsubscribe();
    for (const settle of [...this.#pending.values()]) settle(null);
  }
}
