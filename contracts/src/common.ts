// Shared primitives: slugs (names that become subject tokens), ids, timestamps.
import { z } from "zod";

/** Names that become NATS subject tokens: agent names, tenant ids, runner kinds. */
export const Slug = z
  .string()
  .min(1, "must not be empty")
  .max(64, "must be at most 64 characters")
  .regex(/^[a-z0-9][a-z0-9_-]*$/, "must be a slug: lowercase letters, digits, '_' and '-', starting with a letter or digit");
export type Slug = z.infer<typeof Slug>;

/** Task ids are UUIDv7: sortable by creation time, and a single subject token. */
export const TaskId = z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, "must be a UUIDv7");
export type TaskId = z.infer<typeof TaskId>;

/** ISO-8601 timestamp in UTC. */
export const Timestamp = z.string();

/** Arbitrary JSON object, used for tool args, executor config and metadata. */
export const JsonObject = z.record(z.string(), z.unknown());
export type JsonObject = z.infer<typeof JsonObject>;
