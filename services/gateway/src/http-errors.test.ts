import { SwitchyardError } from "@switchyard/contracts";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { encodeForBus, fromServiceError, HttpProblem, parseOr400, problemBody } from "./http-errors.ts";

function badRequest(fn: () => unknown): HttpProblem {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(HttpProblem);
    const p = err as HttpProblem;
    expect(p.code).toBe("bad_request");
    expect(p.status).toBe(400);
    return p;
  }
  throw new Error("expected parseOr400 to throw");
}

const Body = z.object({ agent: z.string().min(1), input: z.string(), options: z.object({ priority: z.number().int() }).optional() });

describe("parseOr400", () => {
  it("returns the parsed value on success", () => {
    expect(parseOr400(Body, { agent: "a", input: "hi" }, "body")).toEqual({ agent: "a", input: "hi" });
  });

  it("names each wrong field by its path", () => {
    const p = badRequest(() => parseOr400(Body, { agent: "", input: 3, options: { priority: 1.5 } }, "body"));
    expect((p.details as { path: string }[]).map((d) => d.path)).toEqual(["agent", "input", "options.priority"]);
    expect(p.message).toMatch(/^invalid body: agent: .+; input: .+; options\.priority: .+$/);
  });

  it("uses the `what` label as the path of a root-level failure", () => {
    const p = badRequest(() => parseOr400(Body, "not an object", "request body"));
    expect(p.details).toEqual([{ path: "request body", message: expect.any(String) }]);
    expect(p.message).toMatch(/^invalid request body: request body: /);
  });

  it("summarises at most three issues in the message but keeps all in details", () => {
    const Wide = z.object({ a: z.string(), b: z.string(), c: z.string(), d: z.string(), e: z.string() });
    const p = badRequest(() => parseOr400(Wide, {}, "query"));
    expect((p.details as unknown[]).length).toBe(5);
    expect(p.message.split("; ")).toHaveLength(3);
    expect(p.message).not.toContain("d:");
  });
});

describe("HttpProblem", () => {
  it("takes its status from the error catalogue unless given one", () => {
    expect(new HttpProblem("not_found", "x").status).toBe(404);
    expect(new HttpProblem("payload_too_large", "x").status).toBe(413);
    expect(new HttpProblem("conflict", "x", undefined, 412).status).toBe(412);
  });
});

describe("problemBody", () => {
  it("is { error: { code, message, details? } }", () => {
    expect(problemBody("not_found", "gone")).toEqual({ error: { code: "not_found", message: "gone" } });
    expect(Object.hasOwn(problemBody("x", "y").error, "details")).toBe(false);
    expect(problemBody("bad_request", "m", [{ path: "a" }])).toEqual({ error: { code: "bad_request", message: "m", details: [{ path: "a" }] } });
  });
});

describe("fromServiceError", () => {
  it("keeps an HttpProblem as it is", () => {
    const p = new HttpProblem("conflict", "c");
    expect(fromServiceError(p)).toBe(p);
  });

  it("maps a SwitchyardError to the HTTP status of its code, keeping message and details", () => {
    const p = fromServiceError(new SwitchyardError("agent_not_found", "agent 'x' not found", { details: { name: "x" } }));
    expect([p.code, p.status, p.message, p.details]).toEqual(["agent_not_found", 404, "agent 'x' not found", { name: "x" }]);
  });

  it("hides anything else behind a 500", () => {
    const p = fromServiceError(new Error("secret stack detail"));
    expect([p.code, p.status, p.message]).toEqual(["internal", 500, "internal error"]);
  });
});

describe("encodeForBus", () => {
  it("encodes JSON as UTF-8, lone surrogates included, byte for byte as a TextEncoder does", () => {
    const body = { input: "héllo ✓ 🚀", lone: "\ud800", n: 1, nested: { a: [null, true] } };
    const bytes = encodeForBus(undefined, body, "the task");
    expect(Buffer.from(bytes).equals(Buffer.from(new TextEncoder().encode(JSON.stringify(body))))).toBe(true);
    expect(JSON.parse(new TextDecoder().decode(bytes))).toEqual(body);
  });

  it("refuses a message larger than the bus accepts with 413, naming the sizes", () => {
    const body = { input: "é".repeat(600) }; // 1212 bytes of UTF-8 in 612 characters
    expect(encodeForBus(1212, body, "the task").byteLength).toBe(1212);
    let problem: unknown;
    try {
      encodeForBus(1211, body, "the task");
    } catch (err) {
      problem = err;
    }
    expect(problem).toBeInstanceOf(HttpProblem);
    expect(problem).toMatchObject({ code: "payload_too_large", status: 413, message: "the task is 1212 bytes; the message bus accepts 1211" });
  });
});
