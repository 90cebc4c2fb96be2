// What a runner kind is: an initializer registered on runner nodes. A task whose executor is
// `{type: "remote", runner: {kind: K, config}}` goes to `sy.work.K`; a node with an
// initializer for K claims it and calls `run` with the config parsed by `configSchema`. This
// file is the public API for kinds written outside the runner (RUNNER_PLUGINS), exported as
// `@switchyard/runner-pool/kinds`.
import type { Checkpoint, ClaimGranted, EventType, JsonObject, RoundReport, RoundVerdict, TaskResult, Usage, WireError } from "@switchyard/contracts";
import type { Logger } from "@switchyard/runtime";
import type { z } from "zod";
import type { EgressFetch } from "../egress.ts";

export { EgressDenied, type EgressFetch, remoteExcerpt } from "../egress.ts";

/** How one attempt ended on this node. `aborted`: stopped from outside (see `stopReason`). */
export type RunOutcome =
  | { kind: "finished"; result: TaskResult; usage: Usage }
  | { kind: "failed"; error: WireError; usage: Usage }
  | { kind: "aborted"; usage: Usage }
  /** The kernel parked the task (approval or external result needed): nothing more to report. */
  | { kind: "parked"; usage: Usage }
  /** The kernel ended the task (budget, cancel) or fenced this run at a round check: nothing more to report. */
  | { kind: "stopped"; usage: Usage; message: string };

/**
 * Why a run is being stopped: `canceled` (the task was canceled or passed its deadline: stop
 * remote work too), `released` (the node drains: the next attempt resumes elsewhere, so leave
 * remote work running), `abandoned` (the kernel gave the task to another run).
 */
export type StopReason = "canceled" | "released" | "abandoned";

/** Where a run's events go. `emit` queues; `flush` waits until every queued event is durable. */
export interface RunEvents {
  emit(type: EventType, data: unknown): Promise<void>;
  flush(): Promise<void>;
}

export interface NodeInfo {
  id: string;
  /** A directory this node owns for run workspaces (RUNNER_WORKSPACE_ROOT/<kind>). */
  workspaceRoot: string;
  log: Logger;
}

/** What a run tells the kernel about a finished model round (the rest of RoundReport is the run's identity). */
export type RoundCheck = Pick<RoundReport, "round" | "usage" | "calls" | "checkpoint"> & { can_park?: boolean };

export interface RunContext<C> {
  grant: ClaimGranted;
  /** The executor config, parsed by the kind's `configSchema`. */
  config: C;
  /** The task input as text (a conversation's last user message). */
  inputText: string;
  events: RunEvents;
  /** Reports a resume point to the kernel (after flushing events). `state` is kept for the next attempt. */
  checkpoint(cp: Checkpoint): Promise<void>;
  /**
   * Asks the kernel about a finished model round (budgets, approvals, external tools) and
   * returns its verdict. Kinds that run the model loop must call it after every round with
   * tool calls, before any call runs: it is the fence that keeps a stale run from repeating a
   * side effect. A final round may skip it when the kind judges the budgets itself with
   * `roundOverBudget` from contracts (ARCHITECTURE.md §8), as the model loop does.
   */
  checkRound(report: RoundCheck): Promise<RoundVerdict>;
  /** Publishes what this run looks like now in the task's `runner_state` (GET /v1/tasks/:id). */
  setState(state: JsonObject): void;
  /** Aborted when the run must stop; `stopReason()` says why. */
  signal: AbortSignal;
  stopReason(): StopReason | null;
  node: NodeInfo;
  log: Logger;
  /** Max characters per text.delta a kind should emit. */
  textChunkChars: number;
  /**
   * This run's guarded fetch: connects only where the node's EGRESS_ALLOW allows (redirects
   * checked too). A kind that opens a URL a client gave must use it, and report
   * `egress.lastDenial()` as a non-retryable `egress_denied` (see docs/EGRESS.md).
   */
  egress: EgressFetch;
}

export interface RunnerKind<C = unknown> {
  /** A slug: the `executor.runner.kind` it serves, and the `sy.work.<kind>` subject. */
  kind: string;
  description: string;
  /** Validates `executor.runner.config`; its JSON Schema is registered for the gateway to check submits. */
  configSchema: z.ZodType<C>;
  /** Runs one attempt. Must return soon after `signal` aborts, leaving nothing running. */
  run(ctx: RunContext<C>): Promise<RunOutcome>;
  /** Called once when a node serving the kind starts: clean up what a crashed node left. */
  onNodeStart?(node: NodeInfo): Promise<void>;
}

/** Identity function that types a kind's config from its schema. */
export function defineRunnerKind<C>(kind: RunnerKind<C>): RunnerKind<C> {
  return kind;
}
