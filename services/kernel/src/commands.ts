// Consumes SY_CMD (the kernel's inbox) with one durable consumer shared by all kernel
// replicas. Each message is validated, routed by subject and acked only once handled; a
// malformed one is terminated with a log line and counted, so it can never wedge the queue.
import { AckPolicy, type Consumer, DeliverPolicy, type JetStreamManager, type JsMsg } from "@nats-io/jetstream";
import {
  AnswerCall,
  CancelTask,
  CONSUMERS,
  DispatchDue,
  ReaperVerdict,
  RunCheckpointed,
  RunFailed,
  RunFinished,
  RunReleased,
  STREAMS,
  SubmitTask,
  subjects,
} from "@switchyard/contracts";
import { contextFromNats, decodeJson, inSpan, type JetStreamClient, type Logger, type ServiceMetrics, tracingEnabled } from "@switchyard/runtime";
import type { z } from "zod";
import type { Kernel, Outcome } from "./kernel.ts";
import type { KeyedLock } from "./keyed-lock.ts";

type Route = { schema: z.ZodType<{ task_id: string }>; handle: (cmd: never) => Promise<Outcome> };

export function commandRoutes(kernel: Kernel): Record<string, Route> {
  return {
    [subjects.submit]: { schema: SubmitTask, handle: (c: SubmitTask) => kernel.submit(c) },
    [subjects.cancel]: { schema: CancelTask, handle: (c: CancelTask) => kernel.cancel(c) },
    [subjects.answer]: { schema: AnswerCall, handle: (c: AnswerCall) => kernel.answer(c) },
    [subjects.runCheckpoint]: { schema: RunCheckpointed, handle: (c: RunCheckpointed) => kernel.checkpoint(c) },
    [subjects.runFinished]: { schema: RunFinished, handle: (c: RunFinished) => kernel.finished(c) },
    [subjects.runFailed]: { schema: RunFailed, handle: (c: RunFailed) => kernel.failed(c) },
    [subjects.runReleased]: { schema: RunReleased, handle: (c: RunReleased) => kernel.released(c) },
    [subjects.dispatchDue]: { schema: DispatchDue, handle: (c: DispatchDue) => kernel.dispatchDue(c) },
    [subjects.reap]: { schema: ReaperVerdict, handle: (c: ReaperVerdict) => applyVerdict(kernel, c) },
  };
}

/**
 * A reaper's verdict, acked once applied with its effects (a redelivered one that finds its
 * change made repeats the effects). The kernel re-checks it against the record: a verdict about
 * an attempt or run that is no longer current changes nothing.
 */
async function applyVerdict(kernel: Kernel, v: ReaperVerdict): Promise<Outcome> {
  if (v.verdict === "run_lost") await kernel.runLost(v.task_id, v.run_id);
  else if (v.verdict === "deadline") await kernel.deadlineExceeded(v.task_id);
  else if (v.verdict === "queue_timeout") await kernel.queueTimedOut(v.task_id, v.attempt, v.waited_ms);
  else await kernel.approvalsTimedOut(v.task_id);
  return { ack: true };
}

/** A command a dead kernel held is redelivered to another replica after this long. */
const COMMAND_ACK_WAIT_NS = 10_000_000_000;

export async function ensureCommandConsumer(jsm: JetStreamManager): Promise<void> {
  try {
    await jsm.consumers.info(STREAMS.cmd, CONSUMERS.kernelCommands);
    await jsm.consumers.update(STREAMS.cmd, CONSUMERS.kernelCommands, { ack_wait: COMMAND_ACK_WAIT_NS });
  } catch {
    await jsm.consumers.add(STREAMS.cmd, {
      durable_name: CONSUMERS.kernelCommands,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: COMMAND_ACK_WAIT_NS,
      max_deliver: -1,
      max_ack_pending: 20_000,
    });
  }
}

export interface CommandStats {
  handled: number;
  invalid: number;
  retried: number;
  failed: number;
}

/** Runs until `stop()`; handles up to `concurrency` commands at once, one at a time per task. */
export async function consumeCommands(opts: {
  js: JetStreamClient;
  kernel: Kernel;
  lock: KeyedLock;
  concurrency: number;
  log: Logger;
  metrics: ServiceMetrics;
}): Promise<{ stop: () => Promise<void>; stats: CommandStats }> {
  const { js, lock, log } = opts;
  const routes = commandRoutes(opts.kernel);
  const stats: CommandStats = { handled: 0, invalid: 0, retried: 0, failed: 0 };
  const consumer: Consumer = await js.consumers.get(STREAMS.cmd, CONSUMERS.kernelCommands);
  // Pulls expire every 5 s (heartbeats every 2.5 s), so a consumer whose leader moved to another
  // NATS node is noticed and pulled again within seconds, not after the default 30 s.
  const messages = await consumer.consume({ max_messages: opts.concurrency, expires: 5000 });
  let stopping = false;
  let inFlight = 0;
  const idle: (() => void)[] = [];
  const slotFree: (() => void)[] = [];

  const handle = async (m: JsMsg): Promise<void> => {
    const route = routes[m.subject];
    const decoded = route ? decodeJson(route.schema, m.data) : { ok: false as const, reason: "unknown command subject" };
    if (!route || !decoded.ok) {
      stats.invalid++;
      opts.metrics.invalidInput.inc({ source: m.subject });
      log.warn({ subject: m.subject, seq: m.seq, reason: decoded.ok ? "" : decoded.reason }, "invalid command dropped");
      m.term();
      return;
    }
    const cmd = decoded.value as { task_id: string };
    if (m.info.deliveryCount > 1) opts.kernel.metrics?.redeliveries.inc({ command: m.subject });
    try {
      const handle = () => lock.run(cmd.task_id, () => route.handle(cmd as never));
      // Off: no header is parsed. On: the command's span is the parent of what it publishes.
      const outcome = await (tracingEnabled() ? inSpan(`kernel ${m.subject}`, contextFromNats(m.headers), { "sy.task_id": cmd.task_id }, handle) : handle());
      if (outcome.ack) {
        stats.handled++;
        m.ack();
      } else if (outcome.maxDeliveries !== undefined && m.info.deliveryCount >= outcome.maxDeliveries) {
        stats.invalid++;
        opts.metrics.invalidInput.inc({ source: m.subject });
        log.warn(
          { subject: m.subject, task_id: cmd.task_id, deliveries: m.info.deliveryCount, reason: outcome.reason },
          "command given up: its task never appeared",
        );
        m.term();
      } else {
        stats.retried++;
        log.debug({ subject: m.subject, task_id: cmd.task_id, reason: outcome.reason }, "command retried later");
        m.nak(outcome.retryInMs);
      }
    } catch (err) {
      stats.failed++;
      log.error({ err, subject: m.subject, task_id: cmd.task_id }, "command failed; will be redelivered");
      m.nak(1000);
    }
  };

  const loop = (async () => {
    for await (const m of messages) {
      // At most `concurrency` commands at once; the rest wait in the consumer's buffer.
      if (inFlight >= opts.concurrency) await new Promise<void>((r) => slotFree.push(r));
      if (stopping) {
        // Pulled but not started: hand it straight back to another replica.
        m.nak();
        continue;
      }
      inFlight++;
      void handle(m).finally(() => {
        inFlight--;
        slotFree.shift()?.();
        if (inFlight === 0) for (const r of idle.splice(0)) r();
      });
    }
  })();

  return {
    stats,
    stop: async () => {
      stopping = true;
      for (const r of slotFree.splice(0)) r();
      await messages.close();
      await loop.catch(() => undefined);
      if (inFlight > 0) await new Promise<void>((r) => idle.push(r));
    },
  };
}
