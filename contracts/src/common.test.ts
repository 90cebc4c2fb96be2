import { describe, expect, it } from "vitest";
import { Slug, TaskId } from "./common.ts";

describe("Slug", () => {
  it.each(["a", "ab-c_1", "0", "9lives", "a".repeat(64)])("accepts %j", (s) => {
    expect(Slug.safeParse(s).success).toBe(true);
  });

  it.each(["", "A", "aB", "-a", "_a", "a.b", "a b", "a>", "a*", "a".repeat(65), "é"])("rejects %j", (s) => {
    expect(Slug.safeParse(s).success).toBe(false);
  });

  it("says why a slug is wrong", () => {
    const r = Slug.safeParse("a".repeat(65));
    expect(r.success).toBe(false);
    expect(r.error?.issues.map((i) => i.message)).toContain("must be at most 64 characters");
    expect(Slug.safeParse("").error?.issues.map((i) => i.message)).toContain("must not be empty");
  });
});

describe("TaskId", () => {
  it("accepts a UUIDv7", () => {
    expect(TaskId.safeParse("01a201a7-9eed-72ff-9d64-122373e39111").success).toBe(true);
    expect(TaskId.safeParse("019a3c1e-7f00-7abc-bdef-0123456789ab").success).toBe(true);
  });

  it.each([
    ["a UUIDv4", "3b241101-e2bb-4255-8caf-4136c566a962"],
    ["uppercase hex", "01A201A7-9EED-72FF-9D64-122373E39111"],
    ["a bad variant nibble", "01a201a7-9eed-72ff-cd64-122373e39111"],
    ["no dashes", "01a201a79eed72ff9d64122373e39111"],
    ["a trailing character", "01a201a7-9eed-72ff-9d64-122373e39111x"],
    ["an empty string", ""],
  ])("rejects %s", (_what, id) => {
    expect(TaskId.safeParse(id).success).toBe(false);
  });
});
