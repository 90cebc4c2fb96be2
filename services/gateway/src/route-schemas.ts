// Routes declare their schemas (zod, from @switchyard/contracts) through fastify-type-provider-zod:
// fastify validates body, params and query before the handler, and @fastify/swagger builds the
// OpenAPI document from the same declarations (openapi.ts). A validation failure becomes the
// same problem a handler's own check gives: 400 `invalid <what>: <path>: <message>` with
// `details` naming each field (`validationProblem`).
import { HttpError } from "@switchyard/contracts";
import type { FastifyError, FastifyInstance, FastifyRequest } from "fastify";
import { hasZodFastifySchemaValidationErrors, validatorCompiler } from "fastify-type-provider-zod";
import { HttpProblem } from "./http-errors.ts";

/**
 * What a route's validation errors call each part: `body` / `querystring` name the whole part
 * (a root-level failure is reported under that name), `params` / `headers` rename each field
 * (`id` → `task id`). Set as the route's `config.names`.
 */
export interface ValidationNames {
  body?: string;
  querystring?: string;
  params?: Record<string, string>;
  headers?: Record<string, string>;
}

declare module "fastify" {
  interface FastifyContextConfig {
    names?: ValidationNames;
  }
}

/**
 * Validation through zod; responses are serialized with plain JSON.stringify, as before: the
 * handlers build them from contract types, the e2e OpenAPI test checks them against the spec,
 * and a zod pass over every response (a task list, an agent catalog) would cost CPU on the hot
 * path and could change output (defaults, stripped keys).
 */
export function useZodSchemas(app: FastifyInstance): void {
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
}

/** Error responses a route declares: each is the catalogue's problem body. */
export function problems(...codes: number[]): Record<number, typeof HttpError> {
  return Object.fromEntries(codes.map((c) => [c, HttpError]));
}

/** The problem for a schema validation failure, or null when `err` is not one. */
export function validationProblem(err: unknown, req: FastifyRequest): HttpProblem | null {
  if (!hasZodFastifySchemaValidationErrors(err)) return null;
  const e = err as FastifyError & { validationContext?: string };
  const part = e.validationContext ?? "body";
  const names = req.routeOptions.config.names ?? {};
  let what = part === "querystring" ? "query" : part;
  const issues = (e.validation ?? []).map((v) => {
    const segments = v.instancePath.split("/").slice(1);
    if (part === "params" || part === "headers") {
      const rename = (part === "params" ? names.params : names.headers)?.[segments[0] ?? ""];
      if (rename) {
        what = rename;
        return { path: rename, message: v.message ?? "invalid" };
      }
    } else {
      const named = part === "body" ? names.body : names.querystring;
      if (named) what = named;
    }
    return { path: segments.length > 0 && segments[0] !== "" ? segments.join(".") : what, message: v.message ?? "invalid" };
  });
  const summary = issues
    .slice(0, 3)
    .map((i) => `${i.path}: ${i.message}`)
    .join("; ");
  return new HttpProblem("bad_request", `invalid ${what}: ${summary}`, issues);
}
