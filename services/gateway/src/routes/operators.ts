// Operators at the gateway: `GET /v1/operators` lists the registered ones, and a WebSocket at
// `/v1/operators/:id/connect` lets an outside party (a console, a program) register as operator
// `id` and answer the turns of operator agents. The gateway keeps the registration alive while
// the socket is open, relays each turn from `sy.operator.<id>.turn` as a `turn` message and
// sends the `reply` back; when the socket closes it unregisters the operator.
import { randomUUID } from "node:crypto";
import type { Msg } from "@nats-io/transport-node";
import { OPERATOR_TTL_MS, OperatorList, OperatorRecord, OperatorReply, OperatorTurn, Slug, SpawnerReply, subjects } from "@switchyard/contracts";
import { decodeJson, encodeJson, requestJson } from "@switchyard/runtime";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { GatewayContext } from "../context.ts";
import { HttpProblem } from "../http-errors.ts";

export function operatorRoutes(app: FastifyInstance, ctx: GatewayContext, tenantOf: (req: FastifyRequest) => string): void {
  // An operator id belongs to the tenant that registered it: another tenant's connect is refused
  // with 403 before the WebSocket upgrade (the spawner refuses the registration too, for races).
  app.addHook("preValidation", async (req) => {
    if (req.routeOptions.url !== "/v1/operators/:id/connect") return;
    const id = Slug.safeParse((req.params as { id: string }).id);
    if (!id.success) return;
    const owner = await operatorOwner(ctx, id.data);
    if (owner !== null && owner !== tenantOf(req)) throw new HttpProblem("forbidden", `operator '${id.data}' is registered by another tenant`);
  });

  app.get("/v1/operators", { schema: { summary: "Registered operators", response: { 200: OperatorList } } }, async (req) => {
    const tenant = tenantOf(req);
    const items: OperatorRecord[] = [];
    for await (const key of await ctx.operators.keys()) {
      const e = await ctx.operators.get(key);
      const parsed = e?.operation === "PUT" ? OperatorRecord.safeParse(e.json()) : null;
      // The caller's operators and the fleet's (registered over NATS, usable by every tenant).
      if (parsed?.success && (parsed.data.tenant === undefined || parsed.data.tenant === tenant)) items.push(parsed.data);
    }
    return { items: items.sort((a, b) => a.id.localeCompare(b.id)) };
  });

  app.get("/v1/operators/:id/connect", { websocket: true }, (socket, req) => {
    const send = (msg: Record<string, unknown>) => {
      if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(msg));
    };
    const refuse = (code: number, message: string) => {
      send({ type: "error", message });
      socket.close(code, message.slice(0, 120));
    };
    // Browsers cannot set headers on a WebSocket: the token may come as ?access_token= instead.
    const token = (req.query as { access_token?: unknown }).access_token;
    if (!req.headers.authorization && typeof token === "string") req.headers.authorization = `Bearer ${token}`;
    let tenant: string;
    try {
      tenant = tenantOf(req);
    } catch {
      return refuse(1008, "missing or unknown bearer token");
    }
    const id = Slug.safeParse((req.params as { id: string }).id);
    if (!id.success) return refuse(1008, "operator id must be a slug");
    const operatorId = id.data;
    const description =
      typeof (req.query as { description?: unknown }).description === "string" ? String((req.query as { description: string }).description).slice(0, 2000) : "";
    const session = randomUUID();
    const log = ctx.log.child({ operator: operatorId, session });
    const register = async () => {
      const reply = await requestJson(
        ctx.nc,
        subjects.operatorRegister,
        { v: 1, id: operatorId, description, via: "websocket", session, tenant },
        SpawnerReply,
        ctx.env.SPAWNER_TIMEOUT_MS,
      );
      if (!reply.ok) throw new Error(reply.error.message);
    };

    const pending = new Map<string, Msg>();
    let closed = false;
    const sub = ctx.nc.subscribe(subjects.operatorTurn(operatorId), {
      queue: `operator-${operatorId}`, // several connections under one id share its turns
      callback: (_err, msg) => {
        const turn = decodeJson(OperatorTurn, msg.data);
        if (!turn.ok) return;
        pending.set(turn.value.turn_id, msg);
        send({ type: "turn", ...turn.value });
      },
    });
    const renew = setInterval(
      () => void register().catch((err: unknown) => log.warn({ err: (err as Error).message }, "operator renewal failed")),
      OPERATOR_TTL_MS / 3,
    );

    socket.on("message", (data: Buffer) => {
      let body: unknown;
      try {
        body = JSON.parse(data.toString("utf8"));
      } catch {
        return send({ type: "error", message: "messages must be JSON" });
      }
      const { type, ...rest } = (body ?? {}) as { type?: unknown };
      if (type !== "reply") return send({ type: "error", message: "expected {type: 'reply', turn_id, text, tool_calls?}" });
      const reply = OperatorReply.safeParse({ ...rest, v: 1 });
      if (!reply.success) return send({ type: "error", message: `invalid reply: ${reply.error.issues[0]?.message ?? "?"}` });
      const msg = pending.get(reply.data.turn_id);
      if (!msg) return send({ type: "error", message: `no pending turn '${reply.data.turn_id}'` });
      pending.delete(reply.data.turn_id);
      msg.respond(encodeJson(reply.data));
    });
    socket.on("close", () => {
      closed = true;
      clearInterval(renew);
      sub.unsubscribe();
      void requestJson(ctx.nc, subjects.operatorUnregister, { v: 1, id: operatorId, session }, SpawnerReply, ctx.env.SPAWNER_TIMEOUT_MS).catch(() => undefined);
      log.info("operator disconnected");
    });

    register().then(
      () => {
        if (closed) return;
        log.info("operator connected");
        send({ type: "registered", id: operatorId, renew_ms: OPERATOR_TTL_MS / 3 });
      },
      (err: unknown) => refuse(1011, `could not register: ${(err as Error).message}`),
    );
  });
}

/** The tenant that registered operator `id`: null when none is registered, undefined for a fleet operator (NATS). */
async function operatorOwner(ctx: GatewayContext, id: string): Promise<string | null | undefined> {
  const e = await ctx.operators.get(id);
  if (e?.operation !== "PUT") return null;
  const parsed = OperatorRecord.safeParse(e.json());
  return parsed.success ? (parsed.data.tenant ?? undefined) : null;
}
