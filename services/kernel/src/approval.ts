// Approval policies (issue 6): whether a tool call must wait for a person. The kernel alone
// decides; runners only report the calls a model asked for. Tool names match globs
// (`payments.*`, `*`) on a linear-time engine (tool-glob.ts), and `threshold` reads a number at
// a dotted path in the args.
import type { ApprovalPolicy, JsonObject } from "@switchyard/contracts";
import { toolGlob } from "./tool-glob.ts";

export interface ApprovalNeed {
  needed: boolean;
  /** Why, in words a person deciding can read (also when not needed, for logs). */
  reason: string;
}

/**
 * The first glob that matches the tool. A glob that does not compile (a record written before
 * globs were checked) counts as a match: a person decides rather than nobody.
 */
function matches(globs: readonly string[], tool: string): string | undefined {
  return globs.find((glob) => {
    const m = toolGlob(glob);
    return m instanceof Error ? true : m(tool);
  });
}

/** The value at a dotted path (`payment.amount`) of the args, or undefined. */
export function argAt(args: JsonObject, path: string): unknown {
  let v: unknown = args;
  for (const key of path.split(".")) {
    if (v === null || typeof v !== "object" || Array.isArray(v) || !Object.hasOwn(v, key)) return undefined;
    v = (v as Record<string, unknown>)[key];
  }
  return v;
}

export function approvalNeed(policy: ApprovalPolicy, tool: string, args: JsonObject): ApprovalNeed {
  switch (policy.policy) {
    case "always":
      return { needed: true, reason: "every tool call of this agent needs approval" };
    case "never":
      return { needed: false, reason: "this agent's tool calls need no approval" };
    case "pattern": {
      const glob = matches(policy.tools, tool);
      return glob ? { needed: true, reason: `tool '${tool}' matches '${glob}'` } : { needed: false, reason: `tool '${tool}' matches no approval pattern` };
    }
    case "threshold": {
      if (!matches(policy.tools, tool)) return { needed: false, reason: `tool '${tool}' is not covered by the threshold` };
      const value = argAt(args, policy.arg);
      if (typeof value !== "number" || !Number.isFinite(value)) {
        return { needed: true, reason: `argument '${policy.arg}' is missing or not a number (limit ${policy.limit})` };
      }
      return value > policy.limit
        ? { needed: true, reason: `${policy.arg} ${value} is above the limit ${policy.limit}` }
        : { needed: false, reason: `${policy.arg} ${value} is within the limit ${policy.limit}` };
    }
    case "composite": {
      const parts = policy.policies.map((p) => approvalNeed(p, tool, args));
      const needed = policy.mode === "all" ? parts.every((p) => p.needed) : parts.some((p) => p.needed);
      const because = parts.filter((p) => p.needed === needed).map((p) => p.reason);
      return { needed, reason: because.join(policy.mode === "all" ? " and " : "; ") };
    }
  }
}
