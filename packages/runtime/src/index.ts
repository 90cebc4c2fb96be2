// @switchyard/runtime: the service kit every service uses (config, logging, NATS, Redis).
export * from "./codec.ts";
export * from "./env.ts";
export * from "./events.ts";
export * from "./ids.ts";
export * from "./logger.ts";
export * from "./metrics.ts";
export * from "./nats.ts";
export * from "./nats-errors.ts";
export * from "./redis.ts";
export * from "./request.ts";
export * from "./runner-registry.ts";
export * from "./serve.ts";
export * from "./service.ts";
