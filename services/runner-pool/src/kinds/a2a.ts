// The `a2a` runner kind: runs the task on a remote agent that speaks the Agent2Agent protocol
// (v1.0, the version @a2a-js/sdk 1.x speaks). It reads the agent card at `config.url`, sends
// the input as a streaming message, relays the remote task's updates as our events, cancels
// the remote task when ours is canceled, and checkpoints the remote task id as soon as it is
// known, so an attempt after a runner crash subscribes to the same remote task again instead
// of sending the message twice.
import { type Message, type Part, Role, type StreamResponse, type Task, TaskState, type TaskStatus } from "@a2a-js/sdk";
import { type Client, ClientFactory, DefaultAgentCardResolver, JsonRpcTransportFactory, RestTransportFactory } from "@a2a-js/sdk/client";
import type { WireError } from "@switchyard/contracts";
import { z } from "zod";
import { type EgressFetch, type EgressPolicy, egressFetch, remoteExcerpt } from "../egress.ts";
import { defineRunnerKind, type RunContext, type RunOutcome } from "./kind.ts";

export const A2aConfig = z
  .object({
    /** Base URL of the remote agent: its card is served at <url>/.well-known/agent-card.json. */
    url: z.url({ protocol: /^https?$/ }),
    /** Extra HTTP headers on every request (card included), e.g. {"authorization": "Bearer …"}. */
    headers: z.record(z.string().regex(/^[A-Za-z0-9-]+$/), z.string().max(8192)).default({}),
  })
  .strict();
export type A2aConfig = z.infer<typeof A2aConfig>;

/** What a later attempt needs to find the remote task again (checkpoint `state.a2a`). */
const A2aResume = z.object({ task_id: z.string().min(1), context_id: z.string().default("") });

export interface A2aKindOptions {
  requestTimeoutMs: number;
  /** Where this kind may connect; default the node's EGRESS_ALLOW (the run's `ctx.egress`). */
  egress?: EgressPolicy;
}

const TERMINAL = new Set([TaskState.TASK_STATE_COMPLETED, TaskState.TASK_STATE_FAILED, TaskState.TASK_STATE_CANCELED, TaskState.TASK_STATE_REJECTED]);
const NEEDS_INPUT = new Set([TaskState.TASK_STATE_INPUT_REQUIRED, TaskState.TASK_STATE_AUTH_REQUIRED]);

export function a2aKind(opts: A2aKindOptions) {
  return defineRunnerKind({
    kind: "a2a",
    description: "Runs the task on a remote Agent2Agent (A2A v1.0) agent; config: {url, headers?}.",
    configSchema: A2aConfig,
    run: (ctx) => runRemoteAgent(ctx, opts),
  });
}

function textOf(parts: readonly Part[] | undefined): string {
  return (parts ?? [])
    .map((p) => (p.content?.$case === "text" ? p.content.value : p.content?.$case === "data" ? JSON.stringify(p.content.value) : ""))
    .join("");
}

const stateName = (s: TaskState | undefined): string =>
  s === undefined
    ? "unknown"
    : (TaskState[s] ?? String(s))
        .replace(/^TASK_STATE_/, "")
        .toLowerCase()
        .replace(/_/g, "-");

async function connect(config: A2aConfig, timeoutMs: number, egress: EgressFetch): Promise<Client> {
  const fetchImpl: typeof fetch = (input, init) => {
    const headers = new Headers(init?.headers);
    for (const [k, v] of Object.entries(config.headers)) headers.set(k, v);
    return egress.fetch(input, { ...init, headers });
  };
  const factory = new ClientFactory({
    transports: [new JsonRpcTransportFactory({ fetchImpl }), new RestTransportFactory({ fetchImpl })],
    cardResolver: new DefaultAgentCardResolver({ fetchImpl }),
  });
  const signal = AbortSignal.timeout(timeoutMs);
  return await Promise.race([
    factory.createFromUrl(config.url),
    new Promise<never>((_, reject) => signal.addEventListener("abort", () => reject(new Error(`no agent card from ${config.url} within ${timeoutMs} ms`)))),
  ]);
}

async function runRemoteAgent(ctx: RunContext<A2aConfig>, opts: A2aKindOptions): Promise<RunOutcome> {
  const { grant, log } = ctx;
  const round = (grant.checkpoint?.round ?? 0) + 1;
  const resume = A2aResume.safeParse(grant.checkpoint?.state?.a2a);
  let remote: { task_id: string; context_id: string } | null = resume.success ? resume.data : null;
  const remoteState: Record<string, unknown> = { url: ctx.config.url, remote_task_id: remote?.task_id ?? null, remote_state: null, resumed: Boolean(remote) };
  const publishState = (patch: Record<string, unknown>) => {
    if (Object.entries(patch).every(([k, v]) => remoteState[k] === v)) return; // a repeated status update changes nothing
    Object.assign(remoteState, patch);
    ctx.setState({ ...remoteState });
  };

  // Every request of this run (card, messages, redirects) connects only where EGRESS_ALLOW allows.
  const egress = opts.egress ? egressFetch(opts.egress) : ctx.egress;
  /** A refused destination fails the task at once (not retried); other errors keep only a short excerpt of what the remote said. */
  const failure = (err: unknown, what: string): WireError => {
    const denied = egress.lastDenial();
    if (denied) return { code: "egress_denied", message: `a2a: ${denied.message}`, retryable: false };
    return { code: "remote_error", message: `a2a: ${what}${remoteExcerpt((err as Error).message ?? String(err))}`, retryable: true };
  };
  let client: Client;
  try {
    client = await connect(ctx.config, opts.requestTimeoutMs, egress);
  } catch (err) {
    return failed(ctx, failure(err, "cannot reach the remote agent: "));
  }
  publishState({ protocol: client.protocolVersion });

  // Stops reading the stream when our run stops; a cancel also cancels the remote task.
  const streamAbort = new AbortController();
  const onAbort = () => {
    streamAbort.abort();
    if (ctx.stopReason() === "canceled" && remote) {
      const id = remote.task_id;
      void client
        .cancelTask({ tenant: "", id, metadata: undefined }, { signal: AbortSignal.timeout(opts.requestTimeoutMs) })
        .then(() => log.info({ remote_task_id: id }, "a2a: remote task canceled"))
        .catch((err: unknown) => log.warn({ remote_task_id: id, err: (err as Error).message }, "a2a: remote cancel failed"));
    }
  };
  ctx.signal.addEventListener("abort", onAbort, { once: true });

  let artifactText = "";
  let lastAgentText = "";
  const learnRemoteTask = async (taskId: string, contextId: string) => {
    if (!taskId || remote?.task_id === taskId) return;
    remote = { task_id: taskId, context_id: contextId };
    publishState({ remote_task_id: taskId });
    // Durable before anything else: a crash from here on resumes this remote task.
    await ctx.checkpoint({ round: round - 1, messages: grant.checkpoint?.messages ?? [], usage: ctx.grant.usage, state: { a2a: remote } });
  };

  /** Maps one remote status; returns the run's outcome once the remote task has ended. */
  const onStatus = async (status: TaskStatus | undefined, artifacts?: Task["artifacts"]): Promise<RunOutcome | null> => {
    if (!status) return null;
    publishState({ remote_state: stateName(status.state) });
    const said = status.message && status.message.role !== Role.ROLE_USER ? textOf(status.message.parts) : "";
    if (artifacts && !artifactText) artifactText = artifacts.map((a) => textOf(a.parts)).join("");
    if (NEEDS_INPUT.has(status.state)) {
      if (said) await ctx.events.emit("message", { round, role: "assistant", content: said });
      if (remote) void client.cancelTask({ tenant: "", id: remote.task_id, metadata: undefined }).catch(() => undefined);
      return failed(ctx, {
        code: "input_required_unsupported",
        message: `a2a: the remote agent asked for ${status.state === TaskState.TASK_STATE_AUTH_REQUIRED ? "authentication" : "input"}${said ? `: ${remoteExcerpt(said)}` : ""}; relaying it back is not supported, so the remote task was canceled`,
        retryable: false,
      });
    }
    if (!TERMINAL.has(status.state)) {
      if (said && said !== lastAgentText) {
        lastAgentText = said;
        await ctx.events.emit("text.delta", { round, delta: `${said}\n` });
      }
      return null;
    }
    if (status.state === TaskState.TASK_STATE_COMPLETED) {
      const text = artifactText || said || lastAgentText;
      await ctx.events.emit("message", { round, role: "assistant", content: text });
      await ctx.events.emit("step.finish", { round });
      return { kind: "finished", result: { text }, usage: ctx.grant.usage };
    }
    return failed(ctx, {
      code: "remote_error",
      message: `a2a: remote task ${stateName(status.state)}${said ? `: ${remoteExcerpt(said)}` : ""}`,
      retryable: false,
    });
  };

  const onEvent = async (ev: StreamResponse): Promise<RunOutcome | null> => {
    const p = ev.payload;
    if (!p) return null;
    switch (p.$case) {
      case "message": {
        // A plain message instead of a task: the remote agent answered at once.
        const text = textOf(p.value.parts);
        await ctx.events.emit("text.delta", { round, delta: text });
        await ctx.events.emit("message", { round, role: "assistant", content: text });
        await ctx.events.emit("step.finish", { round });
        return { kind: "finished", result: { text }, usage: ctx.grant.usage };
      }
      case "task":
        await learnRemoteTask(p.value.id, p.value.contextId);
        return onStatus(p.value.status, p.value.artifacts);
      case "statusUpdate":
        await learnRemoteTask(p.value.taskId, p.value.contextId);
        return onStatus(p.value.status);
      case "artifactUpdate": {
        await learnRemoteTask(p.value.taskId, p.value.contextId);
        const text = textOf(p.value.artifact?.parts);
        if (text) {
          artifactText = p.value.append ? artifactText + text : artifactText ? `${artifactText}\n${text}` : text;
          await ctx.events.emit("text.delta", { round, delta: text });
        }
        return null;
      }
    }
  };

  const options = { signal: streamAbort.signal };
  try {
    await ctx.events.emit("step.start", { round });
    let stream: AsyncGenerator<StreamResponse, void, undefined>;
    if (remote) {
      // A later attempt: the remote task exists. If it already ended, take its outcome.
      const task = await client.getTask({ tenant: "", id: remote.task_id }, options);
      log.info({ remote_task_id: remote.task_id, remote_state: stateName(task.status?.state) }, "a2a: resuming the remote task");
      if (task.status && TERMINAL.has(task.status.state)) return (await onStatus(task.status, task.artifacts)) ?? failed(ctx, lostStream());
      stream = client.resubscribeTask({ tenant: "", id: remote.task_id }, options);
    } else {
      const message: Message = {
        messageId: `${grant.task_id}`,
        contextId: "",
        taskId: "",
        role: Role.ROLE_USER,
        parts: [{ content: { $case: "text", value: ctx.inputText }, metadata: undefined, filename: "", mediaType: "text/plain" }],
        metadata: { switchyard_task_id: grant.task_id },
        extensions: [],
        referenceTaskIds: [],
      };
      stream = client.sendMessageStream({ tenant: "", message, configuration: undefined, metadata: undefined }, options);
    }
    for await (const ev of stream) {
      if (ctx.signal.aborted) break;
      const outcome = await onEvent(ev);
      if (outcome) return outcome;
    }
    if (ctx.signal.aborted) return { kind: "aborted", usage: ctx.grant.usage };
    return failed(ctx, lostStream());
  } catch (err) {
    if (ctx.signal.aborted) return { kind: "aborted", usage: ctx.grant.usage };
    return failed(ctx, failure(err, ""));
  } finally {
    ctx.signal.removeEventListener("abort", onAbort);
  }
}

/** The stream ended before the remote task did: retryable, and the retry resubscribes. */
const lostStream = (): WireError => ({ code: "remote_error", message: "a2a: the remote stream ended before the task did", retryable: true });

async function failed(ctx: RunContext<A2aConfig>, error: WireError): Promise<RunOutcome> {
  await ctx.events.emit("error", error).catch(() => undefined);
  return { kind: "failed", error, usage: ctx.grant.usage };
}
