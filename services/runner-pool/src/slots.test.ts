import { describe, expect, it } from "vitest";
import { Slots } from "./slots.ts";

const tick = () => new Promise<void>((r) => setImmediate(r));

describe("Slots", () => {
  it("starts empty", () => {
    const s = new Slots(3);
    expect([s.total, s.used, s.free]).toEqual([3, 0, 3]);
  });

  it("reserve takes at most what is free and reports how many it took", () => {
    const s = new Slots(3);
    expect(s.reserve(2)).toBe(2);
    expect(s.reserve(5)).toBe(1);
    expect(s.reserve(1)).toBe(0);
    expect([s.used, s.free]).toEqual([3, 0]);
  });

  it("reserve of zero or a negative count takes nothing", () => {
    const s = new Slots(2);
    expect(s.reserve(0)).toBe(0);
    expect(s.reserve(-3)).toBe(0);
    expect(s.used).toBe(0);
  });

  it("release gives slots back and never goes below zero", () => {
    const s = new Slots(4);
    s.reserve(3);
    s.release();
    expect(s.used).toBe(2);
    s.release(2);
    expect(s.used).toBe(0);
    s.release(5);
    expect([s.used, s.free]).toEqual([0, 4]);
    s.release(-1);
    expect(s.used).toBe(0);
  });

  it("waitFree resolves at once when a slot is free", async () => {
    const s = new Slots(1);
    let done = false;
    void s.waitFree().then(() => {
      done = true;
    });
    await tick();
    expect(done).toBe(true);
  });

  it("waitFree waits while full and wakes every waiter on release", async () => {
    const s = new Slots(1);
    s.reserve(1);
    const woke: string[] = [];
    void s.waitFree().then(() => woke.push("a"));
    void s.waitFree().then(() => woke.push("b"));
    await tick();
    expect(woke).toEqual([]);
    s.release(0);
    await tick();
    expect(woke).toEqual([]);
    s.release(1);
    await tick();
    expect(woke).toEqual(["a", "b"]);
    expect(s.free).toBe(1);
  });

  it("wakeAll releases waiters without freeing slots", async () => {
    const s = new Slots(1);
    s.reserve(1);
    let woke = false;
    void s.waitFree().then(() => {
      woke = true;
    });
    s.wakeAll();
    await tick();
    expect(woke).toBe(true);
    expect(s.free).toBe(0);
  });
});
