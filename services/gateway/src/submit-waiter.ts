// Waits for the kernel's answer to a command: that a submitted task exists (so a 202 is always
// followed by a task the client can read and stream), or its verdict on an approval or tool
// result (so the client learns at once whether its answer stands). One inbox subscription per
// kind of answer serves every request.

import type { Subscription } from "@nats-io/transport-node";
import { AnswerOutcome, SubmitAccepted } from "@switchyard/contracts";
import { decodeJson, type Logger, type NatsConnection } from "@switchyard/runtime";
import type { z } from "zod";

export class InboxWaiter<T> {
  readonly #prefix: string;
  readonly #pending = new Map<string, (value: T | null) => void>();
  readonly #sub: Subscription;

  constructor(nc: NatsConnection, log: Logger, name: string, schema: z.ZodType<T>, keyOf: (value: T) => string) {
    this.#prefix = `_INBOX.gw-${name}.${crypto.randomUUID()}`;
    this.#sub = nc.subscribe(`${this.#prefix}.*`, {
      callback: (_err, msg) => {
        const decoded = decodeJson(schema, msg.data);
        if (!decoded.ok) return void log.warn({ reason: decoded.reason, inbox: name }, "bad kernel confirmation");
        const resolve = this.#pending.get(keyOf(decoded.value as T));
        if (resolve) resolve(decoded.value as T);
      },
    });
  }

  /** The subject the kernel should answer on for this key. */
  subjectFor(key: string): string {
    return `${this.#prefix}.${key}`;
  }

  /**
   * Registers interest before the command is published; the promise settles with the
   * kernel's answer, or null after `timeoutMs` (the command is durable either way).
   */
  expect(key: string, timeoutMs: number): { promise: Promise<T | null>; cancel: () => void } {
    let timer: NodeJS.Timeout | undefined;
    const promise = new Promise<T | null>((resolve) => {
      const settle = (v: T | null) => {
        clearTimeout(timer);
        this.#pending.delete(key);
        resolve(v);
      };
      this.#pending.set(key, settle);
      timer = setTimeout(() => settle(null), timeoutMs);
    });
    return { promise, cancel: () => this.#pending.get(key)?.(null) };
  }

  close(): void {
    this.#sub.unsubscribe();
    for (const settle of [...this.#pending.values()]) settle(null);
  }
}

/** Confirmations that a submitted task exists, keyed by the submitted task id. */
export class SubmitWaiter extends InboxWaiter<SubmitAccepted> {
  constructor(nc: NatsConnection, log: Logger) {
    super(nc, log, "submit", SubmitAccepted, (m) => m.submitted_task_id);
  }
}

/** The kernel's verdicts on answers (approvals, tool results), keyed by answer id. */
export class AnswerWaiter extends InboxWaiter<AnswerOutcome> {
  constructor(nc: NatsConnection, log: Logger) {
    super(nc, log, "answer", AnswerOutcome, (m) => m.answer_id);
  }
}
