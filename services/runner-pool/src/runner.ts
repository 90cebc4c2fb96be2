// A runner node: pulls work of the kinds it serves (one durable consumer per kind, shared by
// every node of that kind), claims each task from the kernel, runs the agent loop and
// reports. It never writes task state, retries or decides: it reports, the kernel decides.

import path from "node:path";
import { AckPolicy, type Consumer, DeliverPolicy, type JetStreamManager, type JsMsg } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import {
  type Checkpoint,
  type ClaimGranted,
  ClaimReply,
  CONSUMERS,
  describeZodIssues,
  RoundVerdict,
  type RunnerNode,
  STREAMS,
  SwitchyardError,
  subjects,
  TaskControl,
  WorkItem,
} from "@switchyard/contracts";
import {
  buildEvent,
  contextFromNats,
  decodeJson,
  encodeJson,
  inSpan,
  isConsumerExists,
  type JetStreamClient,
  type KV,
  type Logger,
  type Redis,
  requestJson,
  type ServiceMetrics,
  traceHeaders,
  tracingEnabled,
} from "@switchyard/runtime";
import { sleep } from "./abortable.ts";
import { inputText } from "./agent-loop.ts";
import { type EgressPolicy, egressFetch, egressPolicy } from "./egress.ts";
import type { RunnerEnv } from "./env.ts";
import { EventPublisher } from "./event-publisher.ts";
import type { NodeInfo, RoundCheck, RunOutcome, StopReason } from "./kinds/kind.ts";
import { type AnyRunnerKind, registerKinds } from "./kinds/registry.ts";
import { Liveness } from "./liveness.ts";
import { ReplayCache } from "./replay-cache.ts";
import { createRunnerMetrics, MeteredEventSink, providerOf, type RunnerMetrics } from "./runner-metrics.ts";
import { Slots } from "./slots.ts";

/** How soon a work item for a provider this node lacks is offered again (to any node). */
const PROVIDER_NAK_MS = 1000;
/** Work items are acked right after the claim; an unclaimed one returns after this. */
const WORK_ACK_WAIT_NS = 10_000_000_000;
/** An event publish whose JetStream ack has not come by then fails (the JetStream client's own request timeout). */
const EVENT_ACK_TIMEOUT_MS = 5000;

interface ActiveRun {
  grant: ClaimGranted;
  abort: AbortController;
  /** Set when the node hands the run back on drain instead of finishing it. */
  releasing: boolean;
  /** Set when another run holds the lease: the run is fenced, nothing more is reported. */
  abandoned: boolean;
  /** Why the run was stopped from outside, once it was. */
  stopReason: StopReason | null;
  done: Promise<void>;
}

export class RunnerNodeService {
  readonly #nc: NatsConnection;
  readonly #js: JetStreamClient;
  /** Every run's events go out through it: one ack subscription for the node, not one per run. */
  readonly #events: EventPublisher;
  readonly #jsm: JetStreamManager;
  readonly #redis: Redis;
  readonly #env: RunnerEnv;
  readonly #log: Logger;
  readonly #runnerKinds: KV;
  /** The initializer of each kind this node serves. */
  readonly #initializers: Map<string, AnyRunnerKind>;
  readonly #capabilities: { providers: string[]; mcp_servers: string[] };
  readonly kinds: string[];
  readonly slots: Slots;
  readonly liveness: Liveness;
  readonly metrics: ServiceMetrics;
  readonly runnerMetrics: RunnerMetrics;
  readonly #active = new Map<string, ActiveRun>();
  readonly #fetchLoops: Promise<void>[] = [];
  readonly #startedAt = new Date().toISOString();
  #draining = false;
  #lastBeat = this.#startedAt;
  stats = { notOurs: 0, claimed: 0, refused: 0, finished: 0, failed: 0, aborted: 0, released: 0, parked: 0, stopped: 0, invalidWork: 0 };

  constructor(deps: {
    nc: NatsConnection;
    js: JetStreamClient;
    jsm: JetStreamManager;
    redis: Redis;
    env: RunnerEnv;
    log: Logger;
    metrics: ServiceMetrics;
    runnerKinds: KV;
    initializers: Map<string, AnyRunnerKind>;
    /** Provider and MCP server names, shown in the node record. */
    capabilities?: { providers: string[]; mcp_servers: string[] };
  }) {
    this.#nc = deps.nc;
    this.#js = deps.js;
    this.#events = new EventPublisher(deps.nc, EVENT_ACK_TIMEOUT_MS);
    this.#jsm = deps.jsm;
    this.#redis = deps.redis;
    this.#env = deps.env;
    this.#log = deps.log.child({ node_id: deps.env.NODE_ID });
    this.#runnerKinds = deps.runnerKinds;
    this.#initializers = deps.initializers;
    this.#capabilities = deps.capabilities ?? { providers: [], mcp_servers: [] };
    this.kinds = [...deps.initializers.keys()];
    if (this.kinds.length === 0) throw new Error("this node serves no kind: set RUNNER_KINDS or RUNNER_SERVE_LOCAL=true");
    this.metrics = deps.metrics;
    this.slots = new Slots(deps.env.RUNNER_SLOTS);
    this.runnerMetrics = createRunnerMetrics(deps.metrics.registry, () => ({ total: this.slots.total, usedByKind: this.#usedByKind() }));
    this.liveness = new Liveness(
      deps.redis,
      () => this.nodeRecord(),
      {
        heartbeatMs: deps.env.HEARTBEAT_MS,
        nodeTtlMs: deps.env.NODE_TTL_MS,
        leaseTtlMs: deps.env.LEASE_TTL_MS,
      },
      this.#log,
    );
  }

  nodeRecord(): RunnerNode {
    this.#lastBeat = new Date().toISOString();
    return {
      id: this.#env.NODE_ID,
      kinds: this.kinds,
      slots: { total: this.slots.total, used: this.#active.size, free: this.slots.total - this.#active.size },
      version: this.#env.SY_VERSION,
      started_at: this.#startedAt,
      last_heartbeat: this.#lastBeat,
      draining: this.#draining,
      providers: this.#capabilities.providers,
      mcp_servers: this.#capabilities.mcp_servers,
    };
  }

  async start(): Promise<void> {
    this.liveness.onLeaseLost = (taskId, runId) => {
      const active = this.#active.get(taskId);
      if (active?.grant.run_id !== runId) return;
      active.abandoned = true;
      active.stopReason ??= "abandoned";
      this.runnerMetrics.leasesLost.inc();
      this.#log.warn({ task_id: taskId, run_id: runId }, "run abandoned: lease lost (the kernel gave the task to another run)");
      active.abort.abort(new Error("lease lost"));
    };
    for (const init of this.#initializers.values()) await init.onNodeStart?.(this.#nodeInfo(init.kind));
    await registerKinds(this.#runnerKinds, this.#initializers.values(), this.#env.NODE_ID, this.#log);
    for (const kind of this.kinds) await this.#ensureWorkConsumer(kind);
    this.liveness.start();
    for (const kind of this.kinds) this.#fetchLoops.push(this.#fetchLoop(kind));
  }

  async #ensureWorkConsumer(kind: string): Promise<void> {
    const name = CONSUMERS.work(kind);
    try {
      const info = await this.#jsm.consumers.info(STREAMS.work, name);
      if (info.config.ack_wait !== WORK_ACK_WAIT_NS) await this.#jsm.consumers.update(STREAMS.work, name, { ack_wait: WORK_ACK_WAIT_NS });
    } catch {
      try {
        await this.#jsm.consumers.add(STREAMS.work, {
          durable_name: name,
          filter_subject: subjects.work(kind),
          ack_policy: AckPolicy.Explicit,
          deliver_policy: DeliverPolicy.All,
          // A node that froze holding a work item it has not claimed yet gives it back this soon.
          ack_wait: WORK_ACK_WAIT_NS,
          max_deliver: -1,
          max_ack_pending: 100_000,
        });
      } catch (err) {
        // Another node created it at the same moment.
        if (!isConsumerExists(err)) throw err;
      }
    }
  }

  /** Pulls work of one kind whenever a slot is free; reserved slots bound what it takes. */
  async #fetchLoop(kind: string): Promise<void> {
    const consumer: Consumer = await this.#js.consumers.get(STREAMS.work, CONSUMERS.work(kind));
    while (!this.#draining) {
      await this.slots.waitFree();
      if (this.#draining) break;
      const share = Math.max(1, Math.floor(this.slots.free / this.kinds.length));
      const reserved = this.slots.reserve(Math.min(share, 256));
      if (reserved === 0) continue;
      let taken = 0;
      try {
        const batch = await consumer.fetch({ max_messages: reserved, expires: 2000 });
        for await (const m of batch) {
          taken++;
          void this.#tracedWork(m, kind).finally(() => this.slots.release(1));
          if (this.#draining) break;
        }
      } catch (err) {
        this.#log.warn({ kind, err: (err as Error).message }, "fetch failed; retrying");
        await sleep(500);
      } finally {
        this.slots.release(reserved - taken);
      }
    }
  }

  /** A span per work item, child of the kernel's dispatch (its traceparent); off: the work alone. */
  #tracedWork(m: JsMsg, kind: string): Promise<void> {
    if (!tracingEnabled()) return this.#handleWork(m);
    return inSpan("runner-pool run", contextFromNats(m.headers), { "sy.kind": kind, "sy.node_id": this.#env.NODE_ID }, () => this.#handleWork(m));
  }

  async #handleWork(m: JsMsg): Promise<void> {
    const decoded = decodeJson(WorkItem, m.data);
    if (!decoded.ok) {
      this.stats.invalidWork++;
      this.metrics.invalidInput.inc({ source: m.subject });
      this.#log.warn({ subject: m.subject, reason: decoded.reason }, "invalid work item dropped");
      m.term();
      return;
    }
    const item = decoded.value;
    if (m.info.deliveryCount > 1) this.runnerMetrics.redeliveries.inc({ kind: item.kind });
    if (this.#draining) {
      m.nak();
      return;
    }
    if (item.provider && !this.#capabilities.providers.includes(item.provider)) {
      // Not ours to claim: a node with the provider takes it; meanwhile the task stays queued
      // and GET /v1/tasks/:id says that no node has the provider.
      this.stats.notOurs++;
      m.nak(PROVIDER_NAK_MS);
      return;
    }
    let reply: ClaimReply;
    try {
      reply = await requestJson(
        this.#nc,
        subjects.claim,
        { v: 1, task_id: item.task_id, attempt: item.attempt, node_id: this.#env.NODE_ID },
        ClaimReply,
        this.#env.CLAIM_TIMEOUT_MS,
      );
    } catch (err) {
      this.#log.warn({ task_id: item.task_id, err: (err as Error).message }, "claim got no answer; work goes back to the queue");
      m.nak(1000);
      return;
    }
    m.ack();
    if (!reply.granted) {
      this.stats.refused++;
      this.#log.info({ task_id: item.task_id, attempt: item.attempt, reason: reply.reason }, "claim refused");
      return;
    }
    this.stats.claimed++;
    await this.#run(reply);
  }

  async #run(grant: ClaimGranted): Promise<void> {
    const log = this.#log.child({ task_id: grant.task_id, run_id: grant.run_id, attempt: grant.attempt });
    const abort = new AbortController();
    let resolveDone!: () => void;
    const active: ActiveRun = { grant, abort, releasing: false, abandoned: false, stopReason: null, done: new Promise((r) => (resolveDone = r)) };
    this.#active.set(grant.task_id, active);

    const control = this.#nc.subscribe(subjects.taskControl(grant.task_id), {
      callback: (_err, msg) => {
        const ctl = decodeJson(TaskControl, msg.data);
        if (ctl.ok && (ctl.value.run_id === null || ctl.value.run_id === grant.run_id)) {
          log.info({ reason: ctl.value.reason }, "abort requested");
          // The kernel fences a lost run with an abort too: that run's task lives on elsewhere.
          active.stopReason ??= ctl.value.cause === "fenced" ? "abandoned" : "canceled";
          abort.abort(new Error(ctl.value.reason));
        }
      },
    });
    const target = { tenant: grant.tenant, agent: grant.agent, task_id: grant.task_id };
    const cache = new ReplayCache(this.#redis, grant.task_id, log);
    const sink = new MeteredEventSink(this.#events, target, grant.run_id, grant.attempt, cache, this.#env.EVENT_WINDOW);
    sink.metrics = this.runnerMetrics;
    sink.traceModel = grant.plan.model;
    this.liveness.acquireLease(grant.task_id, grant.run_id);
    const startedAt = new Date().toISOString();
    cache.start(
      { run_id: grant.run_id, node_id: this.#env.NODE_ID, started_at: startedAt, round_count: grant.checkpoint?.round ?? 0 },
      // The kernel publishes the `running` status event; the ring keeps the runner's copy of it.
      { ...buildEvent(target, grant.run_id, grant.attempt, "status", { status: "running", attempt: grant.attempt }), ts: startedAt },
    );

    let outcome: RunOutcome;
    // Numbers this run's checkpoints: each is a distinct report (Nats-Msg-Id), retries of one are not.
    let checkpoints = 0;
    const kind = grant.plan.runner_kind;
    const init = this.#initializers.get(kind);
    // Usage stays cumulative across attempts and resumes: a run that does nothing reports what it was given.
    const noUsage = grant.usage;
    const config = grant.plan.executor.type === "remote" ? grant.plan.executor.runner.config : {};
    const parsed = init?.configSchema.safeParse(config);
    try {
      if (!init || !parsed) {
        outcome = {
          kind: "failed",
          error: { code: "runner_error", message: `this node has no initializer for kind '${kind}'`, retryable: true },
          usage: noUsage,
        };
      } else if (!parsed.success) {
        const issues = describeZodIssues(parsed.error);
        const error = {
          code: "invalid_config",
          message: `invalid config for runner kind '${kind}': ${issues.map((i) => `${i.path}: ${i.message}`).join("; ")}`,
          retryable: false,
          details: issues,
        };
        await sink.emit("error", error).catch(() => undefined);
        outcome = { kind: "failed", error, usage: noUsage };
      } else {
        outcome = await init.run({
          grant,
          config: parsed.data,
          inputText: inputText(grant.input),
          events: sink,
          checkpoint: async (cp: Checkpoint) => {
            await sink.flush();
            await this.#report(subjects.runCheckpoint, grant, { checkpoint: cp }, `cp${cp.round}:${++checkpoints}`);
          },
          checkRound: (report) => this.#checkRound(grant, report, abort.signal),
          setState: (state) => cache.setRunnerState(state),
          signal: abort.signal,
          stopReason: () => active.stopReason,
          node: this.#nodeInfo(kind),
          log: log.child({ kind }),
          textChunkChars: this.#env.TEXT_CHUNK_CHARS,
          egress: egressFetch(this.#egressPolicy),
        });
      }
    } catch (err) {
      outcome = {
        kind: "failed",
        error: err instanceof SwitchyardError ? err.toWire() : { code: "runner_error", message: (err as Error).message, retryable: true },
        usage: noUsage,
      };
      if (abort.signal.aborted) outcome = { kind: "aborted", usage: noUsage };
    }

    try {
      // Events and the run's last cache fields (its runner_state) are written before the outcome
      // is reported: whoever sees the task end sees them too.
      const [flushed] = await Promise.allSettled([sink.flush(), cache.flush()]);
      if (flushed.status === "rejected" && outcome.kind === "finished")
        outcome = { kind: "failed", error: { code: "runner_error", message: (flushed.reason as Error).message, retryable: true }, usage: outcome.usage };
      if (active.abandoned) {
        this.stats.aborted++;
      } else if (outcome.kind === "parked") {
        // The kernel holds the checkpoint and the waiting calls; the answer starts a new
        // attempt. Nothing to hand back on a drain either.
        this.stats.parked++;
        log.info("run parked: the task waits for answers; slot released");
      } else if (outcome.kind === "stopped") {
        this.stats.stopped++;
        log.info({ reason: outcome.message }, "run stopped by the kernel");
      } else if (outcome.kind === "finished") {
        // Even while draining: a run that got to its result reports it, never hands it back.
        this.stats.finished++;
        await this.#report(subjects.runFinished, grant, { result: outcome.result, usage: outcome.usage }, "finished");
      } else if (active.releasing) {
        this.stats.released++;
        await this.#report(subjects.runReleased, grant, { reason: "runner draining" }, "released");
        log.info("run handed back (drain)");
      } else if (outcome.kind === "failed") {
        this.stats.failed++;
        const notBefore = retryAfter(outcome.error);
        await this.#report(
          subjects.runFailed,
          grant,
          { error: outcome.error, usage: outcome.usage, ...(notBefore ? { not_before: notBefore } : {}) },
          "failed",
        );
        log.info({ error: outcome.error }, "run failed");
      } else {
        this.stats.aborted++;
        log.info("run aborted");
      }
    } catch (err) {
      // The kernel's lease reaper recovers a run whose outcome could not be reported.
      log.error({ err: (err as Error).message }, "could not report run outcome");
    } finally {
      this.#countRun(grant, active, outcome);
      sink.endSpans();
      control.unsubscribe();
      await this.liveness.releaseLease(grant.task_id, grant.run_id);
      await cache.finish(active.releasing && outcome.kind !== "finished" ? "released" : outcome.kind);
      this.#active.delete(grant.task_id);
      resolveDone();
    }
  }

  /**
   * Asks the kernel about a finished model round and waits for its verdict. Retried while no
   * kernel answers (see #toKernel), so a kernel restart costs time, not the attempt.
   */
  async #checkRound(grant: ClaimGranted, body: RoundCheck, signal: AbortSignal): Promise<RoundVerdict> {
    const payload = this.#encodeReport(grant, { ...body, can_park: body.can_park ?? true }, `round ${body.round} report`);
    return this.#toKernel(
      grant,
      `round ${body.round} check`,
      () => requestJson(this.#nc, subjects.round, payload, RoundVerdict, this.#env.CLAIM_TIMEOUT_MS),
      signal,
    );
  }

  /** Reports to the kernel. The Nats-Msg-Id (`<run_id>:<what>`) makes a retry that did land the first time a no-op. */
  async #report(subject: string, grant: ClaimGranted, body: Record<string, unknown>, what: string): Promise<void> {
    const payload = this.#encodeReport(grant, body, `${what} report`);
    // The run's trace rides along, so the kernel's handling (and the status event it publishes) stays in the task's trace.
    await this.#toKernel(grant, `${what} report`, () => this.#js.publish(subject, payload, { msgID: `${grant.run_id}:${what}`, ...traceHeaders() }));
  }

  /** A report's body, refused at once (not retried) when NATS could never carry it. */
  #encodeReport(grant: ClaimGranted, body: Record<string, unknown>, what: string): Uint8Array {
    const payload = encodeJson({ v: 1, task_id: grant.task_id, run_id: grant.run_id, attempt: grant.attempt, ...body });
    const max = this.#nc.info?.max_payload ?? Number.POSITIVE_INFINITY;
    if (payload.byteLength > max) {
      throw new SwitchyardError("runner_error", `${what} is larger than NATS accepts (max_payload ${max}): ${payload.byteLength} bytes`, { retryable: false });
    }
    return payload;
  }

  /**
   * Retries `send` through a NATS outage or a kernel restart (100 ms doubling to 2 s) for up to
   * REPORT_RETRY_MS. Stops at once when `signal` aborts: nothing is sent for an aborted run.
   */
  async #toKernel<T>(grant: ClaimGranted, what: string, send: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const giveUpAt = Date.now() + this.#env.REPORT_RETRY_MS;
    for (let delay = 100; ; delay = Math.min(delay * 2, 2000)) {
      signal?.throwIfAborted();
      try {
        return await send();
      } catch (err) {
        if (signal?.aborted) throw err;
        if (Date.now() + delay > giveUpAt) {
          throw new SwitchyardError("runner_error", `${what}: no answer within REPORT_RETRY_MS: ${(err as Error).message}`, { retryable: true, cause: err });
        }
        this.#log.warn({ task_id: grant.task_id, what, err: (err as Error).message }, "kernel unreachable; retrying");
        await sleep(delay, signal);
      }
    }
  }

  #egressPolicyCache: EgressPolicy | undefined;
  /** EGRESS_ALLOW, parsed once (the env schema already checked it). */
  get #egressPolicy(): EgressPolicy {
    this.#egressPolicyCache ??= egressPolicy(this.#env.EGRESS_ALLOW);
    return this.#egressPolicyCache;
  }

  #nodeInfo(kind: string): NodeInfo {
    return { id: this.#env.NODE_ID, workspaceRoot: path.join(this.#env.RUNNER_WORKSPACE_ROOT, this.#env.NODE_ID, kind), log: this.#log.child({ kind }) };
  }

  get activeRuns(): number {
    return this.#active.size;
  }

  #usedByKind(): Map<string, number> {
    const used = new Map<string, number>(this.kinds.map((k) => [k, 0]));
    for (const a of this.#active.values()) used.set(a.grant.plan.runner_kind, (used.get(a.grant.plan.runner_kind) ?? 0) + 1);
    return used;
  }

  /** The run's outcome and the tokens it used (its usage is cumulative over attempts: count the difference). */
  #countRun(grant: ClaimGranted, active: ActiveRun, outcome: RunOutcome): void {
    const m = this.runnerMetrics;
    const ended = active.abandoned ? "abandoned" : active.releasing && outcome.kind !== "finished" ? "released" : outcome.kind;
    m.runs.inc({ kind: grant.plan.runner_kind, outcome: ended });
    const usage = (outcome as { usage?: ClaimGranted["usage"] }).usage;
    if (!usage) return;
    const labels = { provider: providerOf(grant.plan.model), model: grant.plan.model };
    const input = usage.input_tokens - grant.usage.input_tokens;
    const output = usage.output_tokens - grant.usage.output_tokens;
    if (input > 0) m.tokens.inc({ ...labels, type: "input" }, input);
    if (output > 0) m.tokens.inc({ ...labels, type: "output" }, output);
  }

  /** Stops claiming, lets runs finish for up to DRAIN_TIMEOUT_MS, then hands the rest back. */
  async drain(): Promise<void> {
    this.#draining = true;
    this.slots.wakeAll();
    void this.liveness.beat();
    await Promise.race([Promise.all([...this.#active.values()].map((a) => a.done)), sleep(this.#env.DRAIN_TIMEOUT_MS)]);
    for (const a of this.#active.values()) {
      a.releasing = true;
      a.stopReason ??= "released";
      a.abort.abort(new Error("runner draining"));
    }
    await Promise.all([...this.#active.values()].map((a) => a.done));
    await Promise.race([Promise.all(this.#fetchLoops), sleep(3000)]);
    await this.liveness.stop(this.#env.NODE_ID);
  }
}

/** A provider's Retry-After (`details.retry_after_ms` of a model error) as the earliest next attempt. */
function retryAfter(error: { details?: unknown }): string | null {
  const ms = (error.details as { retry_after_ms?: unknown } | undefined)?.retry_after_ms;
  return typeof ms === "number" && Number.isFinite(ms) && ms > 0 ? new Date(Date.now() + ms).toISOString() : null;
}
