// Builds the fastify app: routes, the error catalogue, body parsing and limits, metrics.
// Every refusal, down to a malformed URL or an oversized header block, is a JSON problem
// `{error: {code, message, details?}}`; malformed requests are counted in sy_invalid_input_total.
import type { Socket } from "node:net";
import websocket from "@fastify/websocket";
import { createMetrics, type ServiceMetrics } from "@switchyard/runtime";
import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import { authHook, tenantOfRequest } from "./auth.ts";
import type { GatewayContext } from "./context.ts";
import { HttpProblem, problemBody, sendProblem } from "./http-errors.ts";
import { assertUtf8ContentType, parseJsonBody } from "./json-body.ts";
import { quotaHook } from "./quotas.ts";
import { useZodSchemas, validationProblem } from "./route-schemas.ts";
import { a2aRoutes } from "./routes/a2a.ts";
import { agentRoutes } from "./routes/agents.ts";
import { answerRoutes } from "./routes/answers.ts";
import { docsRoutes } from "./routes/docs.ts";
import { eventRoutes } from "./routes/events.ts";
import { healthRoutes } from "./routes/health.ts";
import { metricsRoutes, routeLabel, UNMATCHED_ROUTE } from "./routes/metrics.ts";
import { operatorRoutes } from "./routes/operators.ts";
import { runnerRoutes } from "./routes/runners.ts";
import { taskRoutes } from "./routes/tasks.ts";
import { uiRoutes } from "./routes/ui.ts";

/** Longest path parameter routed at all; longer ones are refused with 414 before any handler. */
const MAX_PARAM_LENGTH = 500;
/** Problems that mean "the request itself is malformed": counted as invalid input. */
const REJECTED_CODES = new Set(["bad_request", "invalid_agent", "payload_too_large"]);

export function buildApp(ctx: GatewayContext & { metrics?: ServiceMetrics }): FastifyInstance {
  const metrics = ctx.metrics ?? createMetrics("gateway");

  const respond = (err: unknown, req: FastifyRequest, reply: FastifyReply) => {
    const problem = validationProblem(err, req) ?? toProblem(err, ctx.env.BODY_LIMIT_BYTES);
    if (problem.code === "payload_too_large") lingerOnOversizedBody(req, reply, ctx.env.BODY_LIMIT_BYTES);
    if (problem.status >= 500) req.log.error({ err }, "request failed");
    else if (REJECTED_CODES.has(problem.code)) metrics.invalidInput.inc({ source: routeLabel(req) });
    return sendProblem(reply, problem);
  };

  const app = Fastify({
    loggerInstance: ctx.log as unknown as FastifyBaseLogger,
    disableRequestLogging: true,
    bodyLimit: ctx.env.BODY_LIMIT_BYTES,
    maxParamLength: MAX_PARAM_LENGTH,
    // A malformed URL (bad percent-encoding) or an over-long path parameter: before routing.
    frameworkErrors: (err, req, reply) => respond(err, req, reply),
    // Below HTTP: oversized header block, garbage request line. Answered on the socket.
    clientErrorHandler: (err: NodeJS.ErrnoException, socket: Socket) => {
      if (err.code === "ECONNRESET" || socket.destroyed) return;
      const [status, reason, message] =
        err.code === "HPE_HEADER_OVERFLOW"
          ? [431, "Request Header Fields Too Large", "request headers are too large"]
          : err.code === "ERR_HTTP_REQUEST_TIMEOUT"
            ? [408, "Request Timeout", "request timed out"]
            : [400, "Bad Request", "malformed HTTP request"];
      if (status !== 408) metrics.invalidInput.inc({ source: UNMATCHED_ROUTE });
      const body = JSON.stringify(problemBody("bad_request", message));
      if (socket.writable) {
        socket.write(
          `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
        );
      }
      socket.destroy(err);
    },
  });
  const tenantOf = tenantOfRequest;
  useZodSchemas(app);
  // Before any route: every route then needs an entry in ROUTE_SCOPES (auth.ts).
  authHook(app, ctx.keys, ctx.env);
  quotaHook(app, ctx.quotas);

  // One body parser: JSON in UTF-8, depth-limited, without prototype keys. Anything else
  // (text/plain included, which fastify would otherwise accept as a string) is a 415.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("application/json", { parseAs: "string" }, (req, body, done) => {
    try {
      assertUtf8ContentType(req.headers["content-type"]);
      done(null, parseJsonBody(body as string));
    } catch (err) {
      done(err as Error, undefined);
    }
  });

  // Before the routes: @fastify/swagger collects each route's declared schemas as it is added.
  docsRoutes(app);
  metricsRoutes(app, metrics);
  app.setErrorHandler((err, req, reply) => respond(err, req, reply));
  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split("?")[0] ?? "";
    return reply.code(404).send(problemBody("not_found", `no route ${req.method} ${path.length > 200 ? `${path.slice(0, 200)}…` : path}`));
  });

  void app.register(websocket, { options: { maxPayload: 1024 * 1024 } });
  // In a plugin, so that the routes are added after @fastify/swagger has loaded and it sees each
  // one; the hooks, parsers and handlers above are the root's and apply to them all.
  void app.register(async (routes) => {
    healthRoutes(routes, ctx);
    taskRoutes(routes, ctx, tenantOf);
    answerRoutes(routes, ctx, tenantOf);
    eventRoutes(routes, ctx, tenantOf);
    agentRoutes(routes, ctx, tenantOf);
    runnerRoutes(routes, ctx);
    a2aRoutes(routes, ctx, tenantOf);
    uiRoutes(routes, ctx);
    void routes.register(async (scoped) => operatorRoutes(scoped, ctx, tenantOf));
  });
  return app;
}

/** Bodies up to this many times BODY_LIMIT_BYTES are read and discarded after a 413. */
const DRAIN_FACTOR = 4;

/**
 * A 413 goes out before the body was read, while the client is still writing. Fastify then
 * closes the connection, and the client's kernel may reset it and discard our answer unread
 * (EPIPE or ECONNRESET instead of a 413, more often on a busy machine). For a body of declared
 * and bounded length, keep the connection instead: Node reads and discards the rest, and the
 * client reads its 413. Larger or chunked bodies are not worth reading: those close.
 */
function lingerOnOversizedBody(req: FastifyRequest, reply: FastifyReply, bodyLimit: number): void {
  if (req.raw.complete) return;
  const declared = Number(req.headers["content-length"]);
  if (Number.isSafeInteger(declared) && declared <= DRAIN_FACTOR * bodyLimit) reply.removeHeader("connection");
}

/** Maps anything a route or fastify throws to a problem from the catalogue. */
function toProblem(err: unknown, bodyLimit: number): HttpProblem {
  if (err instanceof HttpProblem) return err;
  const e = err as Partial<FastifyError> & Error;
  switch (e.code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return new HttpProblem("payload_too_large", `request body is larger than ${bodyLimit} bytes`);
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return new HttpProblem("bad_request", "content-type must be application/json", undefined, 415);
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
      return new HttpProblem("bad_request", "request body is empty; send a JSON object");
    case "FST_ERR_CTP_INVALID_CONTENT_LENGTH":
      return new HttpProblem("bad_request", "request body does not match its Content-Length");
    case "FST_ERR_BAD_URL":
      return new HttpProblem("bad_request", "malformed URL: invalid percent-encoding in the path");
    case "FST_ERR_MAX_PARAM_LENGTH":
      return new HttpProblem("bad_request", `a path parameter is longer than ${MAX_PARAM_LENGTH} characters`, undefined, 414);
  }
  // A command larger than NATS accepts (max_payload): the request was too big, not the server broken.
  if (e.name === "InvalidArgumentError" && /max_payload/.test(e.message ?? "")) {
    return new HttpProblem("payload_too_large", "request is larger than the message bus accepts (NATS max_payload)");
  }
  if (typeof e.statusCode === "number" && e.statusCode >= 400 && e.statusCode < 500) {
    return new HttpProblem("bad_request", `bad request: ${String(e.message).slice(0, 200)}`, undefined, e.statusCode);
  }
  return new HttpProblem("internal", "internal error");
}
