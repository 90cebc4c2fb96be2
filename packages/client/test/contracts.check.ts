// Compile-time only: the client's hand-written types must match the zod contracts both ways.
// `npm run typecheck` fails when a contract changes and this package was not updated.
import type * as C from "@switchyard/contracts";
import type { z } from "zod";
import type * as T from "../src/types.ts";

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const ok = <X extends true>(): X | undefined => undefined;

ok<Same<T.TaskStatus, C.TaskStatus>>();
ok<Same<T.TaskInput, C.TaskInput>>();
ok<Same<T.Usage, C.Usage>>();
ok<Same<T.WireError, C.WireError>>();
ok<Same<T.Executor, C.Executor>>();
ok<Same<T.TaskLimits, C.TaskLimits>>();
ok<Same<T.SubmitTaskBody, C.SubmitTaskBody>>();
ok<Same<T.SubmitTaskResponse, C.SubmitTaskResponse>>();
ok<Same<T.CallAnswer, C.CallAnswer>>();
ok<Same<T.PendingCall, C.PendingCall>>();
ok<Same<T.TaskLive, C.TaskLive>>();
ok<Same<T.TaskView, C.TaskView>>();
ok<Same<T.ListTasksResponse, C.ListTasksResponse>>();
ok<Same<T.CancelResponse, z.infer<typeof C.CancelResponse>>>();
ok<Same<T.ApprovalBody, C.ApprovalBody>>();
ok<Same<T.AnswerResponse, C.AnswerResponse>>();
ok<Same<T.RunnerNode, C.RunnerNode>>();
ok<Same<T.RunnerKindInfo, C.RunnerKindInfo>>();
ok<Same<T.Health, z.infer<typeof C.Health>>>();
ok<Same<T.HttpErrorBody, C.HttpError>>();
ok<Same<T.EventType, C.EventType>>();
ok<Same<{ [K in T.EventType]: T.EventDataByType[K] }, { [K in C.EventType]: z.infer<(typeof C.EventDataByType)[K]> }>>();
// The agent definition is typed more loosely (approval policies and script steps as objects).
ok<
  Same<
    Pick<T.AgentDef, "name" | "kind" | "model" | "instructions" | "executor" | "limits" | "retry">,
    Pick<C.AgentDef, "name" | "kind" | "model" | "instructions" | "executor" | "limits" | "retry">
  >
>();
