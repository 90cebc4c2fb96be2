// The "model" of an `operator` agent: each round is a turn sent to the registered operator on
// `sy.operator.<id>.turn`, and its reply (text and tool calls) streams back like a model's.
// Disconnect rule (README › Agent kinds): while the operator is not registered (it never
// came, or left mid-turn) the runner waits up to OPERATOR_GRACE_MS for it to register again
// and then re-sends the turn with the same turn_id; if it does not come back, the attempt
// fails with `operator_unavailable` (retryable), and the kernel retries per the agent's retry
// policy from the last checkpoint. The runner decides nothing more than that.
import { type ClaimGranted, OperatorReply, type OperatorTurn, SwitchyardError, subjects } from "@switchyard/contracts";
import { decodeJson, encodeJson, isNoResponders, isRequestTimeout, type KV, type Logger, type NatsConnection } from "@switchyard/runtime";
import { sleep } from "./abortable.ts";
import type { Model, ModelChunk, RoundInput } from "./model.ts";

export interface OperatorLink {
  nc: NatsConnection;
  /** KV sy_operators: who is registered now. */
  operators: KV;
  graceMs: number;
  /** How long one turn may take the operator (a person may be slow). */
  turnTimeoutMs: number;
  textChunkChars: number;
  log: Logger;
}

const PRESENCE_POLL_MS = 250;

export class OperatorModel implements Model {
  readonly #link: OperatorLink;
  readonly #grant: ClaimGranted;
  readonly #ref: string;

  constructor(link: OperatorLink, grant: ClaimGranted) {
    if (!grant.plan.operator_ref) throw new SwitchyardError("invalid_agent", "operator agent without operator_ref", { retryable: false });
    this.#link = link;
    this.#grant = grant;
    this.#ref = grant.plan.operator_ref;
  }

  async *round(input: RoundInput): AsyncIterable<ModelChunk> {
    const turn: OperatorTurn = {
      v: 1,
      turn_id: `${this.#grant.task_id}:${this.#grant.attempt}:${input.round}`,
      task_id: this.#grant.task_id,
      attempt: this.#grant.attempt,
      round: input.round,
      agent: this.#grant.agent,
      instructions: this.#grant.plan.instructions,
      messages: [...input.messages],
      tools: this.#grant.plan.tools,
    };
    const reply = await this.#ask(turn, input.signal);
    if (reply.error) throw new SwitchyardError("model_error", `operator '${this.#ref}': ${reply.error.message}`, { retryable: reply.error.retryable });
    for (let i = 0; i < reply.text.length; i += this.#link.textChunkChars) yield { type: "text", delta: reply.text.slice(i, i + this.#link.textChunkChars) };
    for (const call of reply.tool_calls) yield { type: "tool_call", name: call.name, args: call.args };
  }

  /**
   * Which connection of the operator is registered now (its session, else when it registered),
   * or null when none is. A different one than at send time means the turn went to a
   * connection that is gone.
   */
  async #presence(): Promise<string | null | "unknown"> {
    try {
      const e = await this.#link.operators.get(this.#ref);
      if (e?.operation !== "PUT") return null;
      const rec = e.json() as { session?: string; registered_at?: string; tenant?: string };
      // Another tenant's operator under this id is not ours: its turns would leak this task's input.
      if (rec.tenant !== undefined && rec.tenant !== this.#grant.tenant) return null;
      return rec.session ?? rec.registered_at ?? "registered";
    } catch {
      return "unknown"; // cannot tell: do not count it as gone
    }
  }

  /** Sends the turn and waits for the reply, re-sending after the operator re-registers. */
  async #ask(turn: OperatorTurn, signal: AbortSignal): Promise<OperatorReply> {
    const { log } = this.#link;
    let goneSince: number | null = null;
    for (;;) {
      if (signal.aborted) throw signal.reason;
      const presence = await this.#presence();
      if (presence === null) {
        goneSince ??= Date.now();
        if (Date.now() - goneSince >= this.#link.graceMs) throw this.#unavailable(goneSince);
        await sleep(PRESENCE_POLL_MS, signal);
        continue;
      }
      goneSince = null;
      const outcome = await this.#sendOnce(turn, presence, signal);
      if (outcome.kind === "reply") return outcome.reply;
      log.warn({ operator: this.#ref, turn_id: turn.turn_id, why: outcome.why }, "operator turn interrupted; waiting for the operator");
      if (outcome.why !== "operator reconnected mid-turn") goneSince = Date.now();
    }
  }

  /** One request, watched: it ends with the reply, or when the operator's registration disappears. */
  async #sendOnce(turn: OperatorTurn, sentTo: string, signal: AbortSignal): Promise<{ kind: "reply"; reply: OperatorReply } | { kind: "gone"; why: string }> {
    const watch = new AbortController();
    const stopWatch = () => watch.abort();
    signal.addEventListener("abort", stopWatch, { once: true });
    const gone = (async () => {
      while (!watch.signal.aborted) {
        await sleep(PRESENCE_POLL_MS, watch.signal).catch(() => undefined);
        if (watch.signal.aborted) break;
        const now = await this.#presence();
        if (now === null) return { kind: "gone" as const, why: "operator unregistered mid-turn" };
        if (now !== "unknown" && sentTo !== "unknown" && now !== sentTo) return { kind: "gone" as const, why: "operator reconnected mid-turn" };
      }
      return { kind: "gone" as const, why: "stopped" };
    })();
    const asked = this.#link.nc.request(subjects.operatorTurn(this.#ref), encodeJson(turn), { timeout: this.#link.turnTimeoutMs }).then(
      (msg) => {
        const decoded = decodeJson(OperatorReply, msg.data);
        if (!decoded.ok) throw new SwitchyardError("model_error", `operator '${this.#ref}' sent an invalid reply: ${decoded.reason}`, { retryable: false });
        return { kind: "reply" as const, reply: decoded.value };
      },
      (err: unknown) => {
        if (isNoResponders(err)) return { kind: "gone" as const, why: "no responders" };
        if (isRequestTimeout(err))
          throw new SwitchyardError("model_error", `operator '${this.#ref}' did not answer within ${this.#link.turnTimeoutMs} ms`, { retryable: true });
        throw err;
      },
    );
    let onAbort: () => void = () => undefined;
    try {
      const aborted = new Promise<never>((_, reject) => {
        onAbort = () => reject(signal.reason);
        if (signal.aborted) onAbort();
        signal.addEventListener("abort", onAbort, { once: true });
      });
      return await Promise.race([asked, gone, aborted]);
    } finally {
      watch.abort();
      signal.removeEventListener("abort", stopWatch);
      signal.removeEventListener("abort", onAbort);
      asked.catch(() => undefined);
    }
  }

  #unavailable(since: number): SwitchyardError {
    return new SwitchyardError("operator_unavailable", `operator '${this.#ref}' is not connected (waited ${Date.now() - since} ms for it)`, {
      retryable: true,
    });
  }
}
