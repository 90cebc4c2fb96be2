// Builds the fastify app: routes, the error catalogue, and body limits.
import type { JetStreamManager } from "@nats-io/jetstream";
import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance } from "fastify";
import { type GatewayContext, tenantResolver } from "./context.ts";
import { HttpProblem, problemBody, sendProblem } from "./http-errors.ts";
import { agentRoutes } from "./routes/agents.ts";
import { eventRoutes } from "./routes/events.ts";
import { healthRoutes } from "./routes/health.ts";
import { runnerRoutes } from "./routes/runners.ts";
import { taskRoutes } from "./routes/tasks.ts";

export function buildApp(ctx: GatewayContext & { jsm: JetStreamManager }): FastifyInstance {
  const app = Fastify({
    loggerInstance: ctx.log as unknown as FastifyBaseLogger,
    disableRequestLogging: true,
    bodyLimit: ctx.env.BODY_LIMIT_BYTES,
    // Hostile JSON: prototype-polluting keys are refused (400), never merged.
  });
  const tenantOf = tenantResolver(ctx.env);

  app.setErrorHandler((err: FastifyError | HttpProblem, req, reply) => {
    if (err instanceof HttpProblem) return sendProblem(reply, err);
    const code = (err as FastifyError).code;
    if (code === "FST_ERR_CTP_BODY_TOO_LARGE")
      return reply.code(413).send(problemBody("payload_too_large", `request body is larger than ${ctx.env.BODY_LIMIT_BYTES} bytes`));
    if (code === "FST_ERR_CTP_INVALID_MEDIA_TYPE") return reply.code(415).send(problemBody("bad_request", "content-type must be application/json"));
    if (code === "FST_ERR_CTP_EMPTY_JSON_BODY") return reply.code(400).send(problemBody("bad_request", "request body is empty; send a JSON object"));
    if ((err as FastifyError).statusCode === 400 || err instanceof SyntaxError) {
      return reply.code(400).send(problemBody("bad_request", `request body is not valid JSON: ${err.message}`));
    }
    req.log.error({ err }, "request failed");
    return reply.code(500).send(problemBody("internal", "internal error"));
  });
  app.setNotFoundHandler((req, reply) => reply.code(404).send(problemBody("not_found", `no route ${req.method} ${req.url.split("?")[0]}`)));

  healthRoutes(app, ctx);
  taskRoutes(app, ctx, tenantOf);
  eventRoutes(app, ctx, tenantOf);
  agentRoutes(app, ctx);
  runnerRoutes(app, ctx);
  return app;
}
