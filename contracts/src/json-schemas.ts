// Renders the zod schemas as one JSON Schema document (draft 2020-12) keyed by name.
import { z } from "zod";
import { AgentDef, Executor, RunPlan } from "./agent.ts";
import { HttpError } from "./errors.ts";
import { StoredEvent, TaskEvent } from "./events.ts";
import { AnswerResponse, ApprovalBody, ListTasksResponse, RunnerNode, SubmitTaskBody, SubmitTaskResponse, ToolResultBody } from "./http.ts";
import { RunnerKindInfo, RunnerKindRecord } from "./runner-kinds.ts";
import { SUBJECT_CATALOG } from "./subjects.ts";
import { TaskRecord, TaskView } from "./task.ts";

const NAMED: Record<string, z.ZodType> = {
  AgentDef,
  Executor,
  RunPlan,
  TaskRecord,
  TaskView,
  StoredEvent,
  TaskEvent,
  SubmitTaskBody,
  SubmitTaskResponse,
  ListTasksResponse,
  RunnerNode,
  ApprovalBody,
  ToolResultBody,
  AnswerResponse,
  RunnerKindRecord,
  RunnerKindInfo,
  HttpError,
};

export function buildJsonSchemas(): Record<string, unknown> {
  const defs: Record<string, unknown> = {};
  for (const [name, schema] of Object.entries(NAMED)) defs[name] = z.toJSONSchema(schema, { io: "input", unrepresentable: "any" });
  const subjects: Record<string, unknown> = {};
  for (const entry of SUBJECT_CATALOG) {
    subjects[entry.subject] = {
      kind: entry.kind,
      ...(entry.stream ? { stream: entry.stream } : {}),
      from: entry.from,
      to: entry.to,
      purpose: entry.purpose,
      payload: z.toJSONSchema(entry.payload, { io: "input", unrepresentable: "any" }),
      ...(entry.reply ? { reply: z.toJSONSchema(entry.reply, { io: "input", unrepresentable: "any" }) } : {}),
    };
  }
  return { $schema: "https://json-schema.org/draft/2020-12/schema", title: "Switchyard contracts v1", definitions: defs, subjects };
}
