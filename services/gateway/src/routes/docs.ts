// The API's OpenAPI 3.1 document at /openapi.json and a docs UI at /docs (Swagger UI, served
// from the package's own files: nothing from a CDN).
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import type { FastifyInstance } from "fastify";
import { buildOpenApi } from "../openapi.ts";

export function docsRoutes(app: FastifyInstance): void {
  const document = buildOpenApi();
  app.get("/openapi.json", async (_req, reply) => reply.header("cache-control", "no-cache").send(document));
  void app.register(async (scoped) => {
    await scoped.register(swagger, { mode: "static", specification: { document: document as never } });
    await scoped.register(swaggerUi, { routePrefix: "/docs" });
  });
}
