// @switchyard/contracts: the one thing services share. Schemas and types share a name.
export * from "./agent.ts";
export * from "./auth.ts";
export * from "./budgets.ts";
export * from "./capabilities.ts";
export * from "./common.ts";
export * from "./errors.ts";
export * from "./events.ts";
export * from "./http.ts";
export * from "./idempotency.ts";
export * from "./messages.ts";
export * from "./operators.ts";
export * from "./redis.ts";
export * from "./runner-kinds.ts";
export * from "./subjects.ts";
export * from "./task.ts";
