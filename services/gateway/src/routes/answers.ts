// Answers from clients and people to a parked task (issue 6): approval decisions and external
// tool results. The gateway validates the body and publishes the answer as a command
// (sy.cmd.answer, durable in SY_CMD); the kernel decides whether it stands (first answer wins)
// and tells this request on its inbox, so the client gets 200, 404 or 409 at once.
import { type AnswerCall, AnswerResponse, ApprovalBody, isTerminal, subjects, type TaskRecord, ToolResultBody } from "@switchyard/contracts";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import type { GatewayContext } from "../context.ts";
import { encodeForBus, HttpProblem } from "../http-errors.ts";
import { problems } from "../route-schemas.ts";
import { loadTask } from "../task-reads.ts";
import { TaskParams, taskParamNames } from "./tasks.ts";

// 200: the kernel recorded it; 202: durable, no kernel confirmed it in time.
const answered = { 200: AnswerResponse, 202: AnswerResponse, ...problems(400, 404, 409, 413) };

export function answerRoutes(fastify: FastifyInstance, ctx: GatewayContext, tenantOf: (req: FastifyRequest) => string): void {
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  const approvalSchema = { summary: "Approve or reject a waiting tool call", params: TaskParams, body: ApprovalBody, response: answered };
  app.post("/v1/tasks/:id/approvals", { schema: approvalSchema, config: { names: { ...taskParamNames, body: "approval" } } }, async (req, reply) => {
    const task = await loadTask(ctx, req.params.id, tenantOf(req));
    const body = req.body;
    return sendAnswer(ctx, reply, task, body.call_id, { type: "approval", decision: body.decision, ...(body.reason ? { reason: body.reason } : {}) });
  });

  const toolSchema = { summary: "The result of an external tool call", params: TaskParams, body: ToolResultBody, response: answered };
  app.post("/v1/tasks/:id/tool-results", { schema: toolSchema, config: { names: { ...taskParamNames, body: "tool result" } } }, async (req, reply) => {
    const task = await loadTask(ctx, req.params.id, tenantOf(req));
    const body = req.body;
    const answer: AnswerCall["answer"] =
      body.error === undefined
        ? { type: "tool_result", result: body.result }
        : typeof body.error === "string"
          ? { type: "tool_error", error: { code: "tool_error", message: body.error } }
          : { type: "tool_error", error: { code: body.error.code ?? "tool_error", message: body.error.message } };
    return sendAnswer(ctx, reply, task, body.call_id, answer);
  });
}

async function sendAnswer(ctx: GatewayContext, reply: FastifyReply, task: TaskRecord, callId: string, answer: AnswerCall["answer"]): Promise<FastifyReply> {
  // A finished task waits for nothing; no kernel round trip is needed to say so.
  if (isTerminal(task.status)) {
    const standing = [...(task.pending?.calls ?? []), ...task.answered].find((c) => c.call_id === callId)?.answer;
    if (standing) throw new HttpProblem("already_decided", `call ${callId} was already answered; the first answer stands`, { standing });
    throw new HttpProblem("task_not_waiting", `task is ${task.status}, not waiting for an answer`, { status: task.status });
  }
  const answerId = crypto.randomUUID();
  const verdict = ctx.answerWaiter.expect(answerId, ctx.env.SUBMIT_CONFIRM_TIMEOUT_MS);
  const cmd: AnswerCall = { v: 1, task_id: task.id, answer_id: answerId, call_id: callId, answer, notify: ctx.answerWaiter.subjectFor(answerId) };
  let payload: Uint8Array;
  try {
    payload = encodeForBus(ctx.nc.info?.max_payload, cmd, "the answer");
  } catch (err) {
    verdict.cancel();
    throw err;
  }
  try {
    await ctx.js.publish(subjects.answer, payload);
  } catch (err) {
    verdict.cancel();
    throw err;
  }
  const out = await verdict.promise;
  if (!out) {
    // Durable in SY_CMD; a kernel applies it when one runs. The stream tells what came of it.
    const pending: AnswerResponse = { id: task.id, call_id: callId, outcome: "pending", status: task.status, waiting: [] };
    return reply.code(202).send(pending);
  }
  switch (out.outcome) {
    case "accepted": {
      const body: AnswerResponse = { id: task.id, call_id: callId, outcome: "recorded", status: out.task_status, waiting: out.waiting };
      return reply.code(200).send(body);
    }
    case "already_decided":
      throw new HttpProblem("already_decided", out.message, { standing: out.standing });
    case "call_not_found":
      throw new HttpProblem("call_not_found", out.message, { waiting: out.waiting });
    case "task_not_waiting":
      throw new HttpProblem("task_not_waiting", out.message, { status: out.task_status });
    case "wrong_kind":
      throw new HttpProblem("conflict", out.message);
    case "invalid_result":
      throw new HttpProblem("bad_request", out.message, out.details);
  }
}
