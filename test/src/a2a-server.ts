// A remote agent speaking A2A v1.0, built with @a2a-js/sdk's server side (express, JSON-RPC,
// in-memory task store), for the `a2a` runner kind's tests. It behaves by its input:
//   "ask …"    → asks for input (input-required) with the question "Which city?"
//   "fail …"   → fails with "the remote agent broke"
//   "slow …"   → streams 12 artifact chunks 300 ms apart (time to cancel or crash a runner)
//   anything   → a working status, two artifact chunks, completed
// It counts executions per input and cancel requests, so a test can see that a resumed run
// did not send the message twice and that a cancel reached it.
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { type AgentCard, type Message, Role, TaskState } from "@a2a-js/sdk";
import { AgentEvent, type AgentExecutor, DefaultRequestHandler, type ExecutionEventBus, InMemoryTaskStore, type RequestContext } from "@a2a-js/sdk/server";
import { agentCardHandler, jsonRpcHandler, UserBuilder } from "@a2a-js/sdk/server/express";
import express from "express";

export interface A2aTestServer {
  url: string;
  /** Executions started, by input text. */
  executions: Map<string, number>;
  /** Remote task ids a client asked to cancel. */
  cancels: string[];
  /** Remote task ids whose execution ended, with how. */
  ended: Map<string, string>;
  /** The `authorization` header of every request (card included), in order. */
  authorizations: (string | undefined)[];
  close(): Promise<void>;
}

const text = (value: string) => ({ content: { $case: "text" as const, value }, metadata: undefined, filename: "", mediaType: "text/plain" });
const agentMessage = (taskId: string, contextId: string, value: string): Message => ({
  messageId: `${taskId}-${Math.random().toString(36).slice(2)}`,
  contextId,
  taskId,
  role: Role.ROLE_AGENT,
  parts: [text(value)],
  metadata: undefined,
  extensions: [],
  referenceTaskIds: [],
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startA2aServer(): Promise<A2aTestServer> {
  const executions = new Map<string, number>();
  const cancels: string[] = [];
  const ended = new Map<string, string>();
  const canceled = new Set<string>();

  const executor: AgentExecutor = {
    async execute(req: RequestContext, bus: ExecutionEventBus) {
      const { taskId, contextId } = req;
      const input = req.userMessage.parts.map((p) => (p.content?.$case === "text" ? p.content.value : "")).join("");
      executions.set(input, (executions.get(input) ?? 0) + 1);
      const status = (state: TaskState, said?: string) =>
        bus.publish(
          AgentEvent.statusUpdate({
            taskId,
            contextId,
            status: { state, message: said ? agentMessage(taskId, contextId, said) : undefined, timestamp: new Date().toISOString() },
            metadata: undefined,
          }),
        );
      const artifact = (chunk: string, append: boolean, lastChunk: boolean) =>
        bus.publish(
          AgentEvent.artifactUpdate({
            taskId,
            contextId,
            artifact: { artifactId: "answer", name: "answer", description: "", parts: [text(chunk)], metadata: undefined, extensions: [] },
            append,
            lastChunk,
            metadata: undefined,
          }),
        );
      const end = (how: string) => {
        ended.set(taskId, how);
        bus.finished();
      };
      bus.publish(
        AgentEvent.task({
          id: taskId,
          contextId,
          status: { state: TaskState.TASK_STATE_SUBMITTED, message: undefined, timestamp: new Date().toISOString() },
          artifacts: [],
          history: [req.userMessage],
          metadata: undefined,
        }),
      );
      status(TaskState.TASK_STATE_WORKING, "Thinking about it.");
      if (input.startsWith("ask")) {
        status(TaskState.TASK_STATE_INPUT_REQUIRED, "Which city?");
        return end("input-required");
      }
      if (input.startsWith("fail")) {
        status(TaskState.TASK_STATE_FAILED, "the remote agent broke");
        return end("failed");
      }
      const chunks = input.startsWith("slow") ? Array.from({ length: 12 }, (_, i) => `part ${i + 1}. `) : ["Remote answer to: ", input];
      for (const [i, chunk] of chunks.entries()) {
        if (input.startsWith("slow")) await sleep(300);
        if (canceled.has(taskId)) {
          status(TaskState.TASK_STATE_CANCELED, "canceled by the client");
          return end("canceled");
        }
        artifact(chunk, i > 0, i === chunks.length - 1);
      }
      status(TaskState.TASK_STATE_COMPLETED, "Done.");
      end("completed");
    },
    async cancelTask(taskId: string, bus: ExecutionEventBus) {
      cancels.push(taskId);
      canceled.add(taskId);
      void bus;
    },
  };

  const authorizations: (string | undefined)[] = [];
  const app = express();
  app.use((req, _res, next) => {
    authorizations.push(req.headers.authorization);
    next();
  });
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, "127.0.0.1", () => resolve(s));
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const card: AgentCard = {
    name: "switchyard-test-remote",
    description: "A remote A2A agent for Switchyard's tests",
    supportedInterfaces: [{ url: `${url}/a2a/jsonrpc`, protocolBinding: "JSONRPC", tenant: "", protocolVersion: "1.0" }],
    provider: undefined,
    version: "1.0.0",
    capabilities: { streaming: true, pushNotifications: false, extensions: [], extendedAgentCard: false },
    securitySchemes: {},
    securityRequirements: [],
    defaultInputModes: ["text/plain"],
    defaultOutputModes: ["text/plain"],
    skills: [],
    signatures: [],
  };
  const handler = new DefaultRequestHandler(card, new InMemoryTaskStore(), executor);
  app.use("/.well-known/agent-card.json", agentCardHandler({ agentCardProvider: handler }));
  app.use("/a2a/jsonrpc", jsonRpcHandler({ requestHandler: handler, userBuilder: UserBuilder.noAuthentication }));

  return {
    url,
    executions,
    cancels,
    ended,
    authorizations,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
