// The dashboard at /ui: static files built by packages/dashboard (scripts/bootstrap.sh builds
// them). The files hold no data; every API call the page makes carries the user's key.
import { existsSync } from "node:fs";
import path from "node:path";
import fastifyStatic from "@fastify/static";
import type { FastifyInstance } from "fastify";
import type { GatewayContext } from "../context.ts";
import { problemBody } from "../http-errors.ts";

const BUILT = path.resolve(import.meta.dirname, "../../../../packages/dashboard/dist");

export function uiRoutes(app: FastifyInstance, ctx: GatewayContext): void {
  const root = ctx.env.UI_DIR ?? BUILT;
  app.get("/ui", { schema: { hide: true } }, async (_req, reply) => reply.redirect("/ui/"));
  if (!existsSync(path.join(root, "index.html"))) {
    ctx.log.warn({ dir: root }, "dashboard not built (no index.html); /ui answers 404 until it is (./switchyard bootstrap builds it)");
    app.get("/ui/*", { schema: { hide: true } }, async (_req, reply) =>
      reply.code(404).send(problemBody("not_found", `the dashboard is not built (no ${root}/index.html): run ./switchyard bootstrap`)),
    );
    return;
  }
  void app.register(fastifyStatic, { root, prefix: "/ui/", index: ["index.html"], cacheControl: true, maxAge: 0 });
}
