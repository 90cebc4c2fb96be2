import { describe, expect, it } from "vitest";
import { z } from "zod";
import { CONSUMERS, STREAMS, SUBJECT_CATALOG, subjects } from "./subjects.ts";

const TASK_ID = "01a201a7-9eed-72ff-9d64-122373e39111";

describe("subject builders", () => {
  it("build the documented subjects", () => {
    expect(subjects.work("gpu")).toBe("sy.work.gpu");
    expect(subjects.events("t", "a", TASK_ID)).toBe(`sy.events.t.a.${TASK_ID}`);
    expect(subjects.taskEvents(TASK_ID)).toBe(`sy.events.*.*.${TASK_ID}`);
    expect(subjects.taskControl(TASK_ID)).toBe(`sy.ctl.task.${TASK_ID}`);
    expect(CONSUMERS.work("local")).toBe("work_local");
  });

  it.each(["a.b", "*", ">", "a>", "a b", "GPU", "", " gpu"])("refuse the token %j", (bad) => {
    expect(() => subjects.work(bad)).toThrow(/not a valid subject token/);
    expect(() => subjects.events(bad, "a", TASK_ID)).toThrow(/not a valid subject token/);
    expect(() => subjects.events("t", bad, TASK_ID)).toThrow(/not a valid subject token/);
    expect(() => subjects.events("t", "a", bad)).toThrow(/not a valid subject token/);
    expect(() => subjects.taskControl(bad)).toThrow(/not a valid subject token/);
    expect(() => CONSUMERS.work(bad)).toThrow(/not a valid subject token/);
  });

  it("never let a wildcard or separator through in any position", () => {
    for (const s of [subjects.work("gpu-2"), subjects.events("acme", "hello_bot", TASK_ID)]) {
      expect(s.split(".").every((tok) => tok.length > 0 && !/[*> A-Z]/.test(tok))).toBe(true);
    }
  });
});

describe("SUBJECT_CATALOG", () => {
  it("lists each subject once", () => {
    const names = SUBJECT_CATALOG.map((e) => e.subject);
    expect(new Set(names).size).toBe(names.length);
    expect(names.length).toBeGreaterThanOrEqual(15);
  });

  it("gives every entry a payload schema, and every request a reply schema", () => {
    for (const e of SUBJECT_CATALOG) {
      expect(e.payload, e.subject).toBeInstanceOf(z.ZodType);
      if (e.kind === "request") expect(e.reply, e.subject).toBeInstanceOf(z.ZodType);
      else expect(e.reply, e.subject).toBeUndefined();
    }
  });

  it("puts JetStream subjects on a known stream, under that stream's prefix", () => {
    const prefix: Record<string, string> = { [STREAMS.cmd]: "sy.cmd.", [STREAMS.work]: "sy.work.", [STREAMS.events]: "sy.events." };
    for (const e of SUBJECT_CATALOG.filter((x) => x.kind === "jetstream")) {
      expect(e.stream, e.subject).toBeDefined();
      expect(e.subject.startsWith(prefix[e.stream ?? ""] ?? "?"), e.subject).toBe(true);
    }
    for (const e of SUBJECT_CATALOG.filter((x) => x.kind !== "jetstream")) expect(e.stream, e.subject).toBeUndefined();
  });

  it("contains every fixed subject the builders expose", () => {
    const catalogued = new Set(SUBJECT_CATALOG.map((e) => e.subject));
    const fixed = Object.entries(subjects).filter(([k, v]) => typeof v === "string" && !k.endsWith("All"));
    for (const [k, v] of fixed) expect(catalogued.has(v as string), k).toBe(true);
  });
});
