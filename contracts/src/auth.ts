// API keys and scopes (docs/SECURITY.md): what a key may do, and how a stored key looks. Keys
// live in KV `sy_api_keys` (key id → ApiKeyRecord) so every gateway sees a new or revoked key at
// once; only the SHA-256 of the secret is stored.
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { z } from "zod";
import { Slug, Timestamp } from "./common.ts";

/** Every scope a key may hold. `admin` also grants every other scope. */
export const SCOPES = ["tasks:write", "tasks:read", "approvals:write", "agents:read", "agents:write", "admin"] as const;
export const Scope = z.enum(SCOPES);
export type Scope = z.infer<typeof Scope>;

export const ApiKeyId = z.string().regex(/^[0-9a-f]{16}$/, "must be 16 hex digits");

export const ApiKeyRecord = z.object({
  v: z.literal(1),
  id: ApiKeyId,
  tenant: Slug,
  scopes: z.array(Scope).min(1),
  /** SHA-256 (hex) of the whole key string. The key itself is shown once, at creation. */
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  created_at: Timestamp,
  description: z.string().max(200).default(""),
});
export type ApiKeyRecord = z.infer<typeof ApiKeyRecord>;

/** `sy_<16 hex id>_<43 base64url>`: the id finds the record, the rest is 256 random bits. */
const KEY_FORMAT = /^sy_([0-9a-f]{16})_[A-Za-z0-9_-]{43}$/;

export function hashApiKey(key: string): string {
  return createHash("sha256").update(key).digest("hex");
}

/** A new key and the record that stores it (the record never holds the key). */
export function newApiKey(tenant: string, scopes: Scope[], description = ""): { key: string; record: ApiKeyRecord } {
  const id = randomBytes(8).toString("hex");
  const key = `sy_${id}_${randomBytes(32).toString("base64url")}`;
  const record = ApiKeyRecord.parse({ v: 1, id, tenant, scopes, sha256: hashApiKey(key), created_at: new Date().toISOString(), description });
  return { key, record };
}

/** The key id inside a key string, or null when it does not have the format of a stored key. */
export function apiKeyIdOf(key: string): string | null {
  return KEY_FORMAT.exec(key)?.[1] ?? null;
}

/** Whether `key` is the key `record` stores: compares the hashes in constant time. */
export function apiKeyMatches(record: Pick<ApiKeyRecord, "sha256">, key: string): boolean {
  const a = Buffer.from(hashApiKey(key), "hex");
  const b = Buffer.from(record.sha256, "hex");
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Whether a holder of `held` may use a route that needs `needed` (admin holds every scope). */
export function hasScope(held: readonly Scope[], needed: Scope): boolean {
  return held.includes(needed) || held.includes("admin");
}
