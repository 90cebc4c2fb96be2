// JSON on the wire, validated on receipt. A payload that does not parse or does not match
// its schema is reported as data (never thrown), so a hostile message cannot crash a service.

import { describeZodIssues } from "@switchyard/contracts";
import type { z } from "zod";

const enc = new TextEncoder();
const dec = new TextDecoder();

export function encodeJson(value: unknown): Uint8Array {
  return enc.encode(JSON.stringify(value));
}

export type Decoded<T> = { ok: true; value: T } | { ok: false; reason: string };

export function decodeJson<S extends z.ZodType>(schema: S, data: Uint8Array): Decoded<z.infer<S>> {
  let raw: unknown;
  try {
    raw = JSON.parse(dec.decode(data));
  } catch (err) {
    return { ok: false, reason: `not JSON: ${(err as Error).message}` };
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issues = describeZodIssues(parsed.error)
      .slice(0, 5)
      .map((i) => `${i.path}: ${i.message}`);
    return { ok: false, reason: issues.join("; ") };
  }
  return { ok: true, value: parsed.data };
}
