import { describe, expect, it } from "vitest";
import { KeyedLock } from "./keyed-lock.ts";

/** A promise that the test resolves or rejects by hand. */
function gate<T = void>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const tick = () => new Promise<void>((r) => setImmediate(r));

describe("KeyedLock", () => {
  it("runs work for one key strictly one after the other", async () => {
    const lock = new KeyedLock();
    const log: string[] = [];
    const g1 = gate();
    const g2 = gate();
    const p1 = lock.run("k", async () => {
      log.push("1 start");
      await g1.promise;
      log.push("1 end");
      return 1;
    });
    const p2 = lock.run("k", async () => {
      log.push("2 start");
      await g2.promise;
      log.push("2 end");
      return 2;
    });
    const p3 = lock.run("k", async () => {
      log.push("3 start");
      return 3;
    });
    await tick();
    expect(log).toEqual(["1 start"]);
    g1.resolve();
    await tick();
    expect(log).toEqual(["1 start", "1 end", "2 start"]);
    g2.resolve();
    expect(await Promise.all([p1, p2, p3])).toEqual([1, 2, 3]);
    expect(log).toEqual(["1 start", "1 end", "2 start", "2 end", "3 start"]);
  });

  it("keeps the order when earlier work throws, and passes the error to its own caller only", async () => {
    const lock = new KeyedLock();
    const log: string[] = [];
    const g1 = gate();
    const p1 = lock.run("k", async () => {
      log.push("1 start");
      await g1.promise;
      throw new Error("boom");
    });
    const p2 = lock.run("k", async () => {
      log.push("2 start");
      return "two";
    });
    await tick();
    expect(log).toEqual(["1 start"]);
    g1.resolve();
    await expect(p1).rejects.toThrow("boom");
    await expect(p2).resolves.toBe("two");
    expect(log).toEqual(["1 start", "2 start"]);
  });

  it("does not pass the previous failure into the next function", async () => {
    const lock = new KeyedLock();
    const p1 = lock.run("k", async () => {
      throw new Error("first");
    });
    const args: unknown[] = [];
    const p2 = lock.run("k", async (...a: unknown[]) => {
      args.push(...a);
      return "ok";
    });
    await expect(p1).rejects.toThrow("first");
    await expect(p2).resolves.toBe("ok");
    expect(args.some((a) => a instanceof Error)).toBe(false);
  });

  it("a synchronous throw is a rejection, not a crash of the queue", async () => {
    const lock = new KeyedLock();
    const p1 = lock.run("k", () => {
      throw new Error("sync");
    });
    const p2 = lock.run("k", async () => "after");
    await expect(p1).rejects.toThrow("sync");
    await expect(p2).resolves.toBe("after");
  });

  it("runs different keys concurrently", async () => {
    const lock = new KeyedLock();
    const log: string[] = [];
    const ga = gate();
    const pa = lock.run("a", async () => {
      log.push("a start");
      await ga.promise;
      log.push("a end");
    });
    const pb = lock.run("b", async () => {
      log.push("b start");
      log.push("b end");
    });
    await pb;
    expect(log).toEqual(["a start", "b start", "b end"]);
    await tick();
    expect(lock.size).toBe(1);
    ga.resolve();
    await pa;
    expect(log).toEqual(["a start", "b start", "b end", "a end"]);
  });

  it("forgets a key once its queue drains, including after a failure", async () => {
    const lock = new KeyedLock();
    const g = gate();
    const p1 = lock.run("x", () => g.promise);
    const p2 = lock.run("y", async () => {
      throw new Error("nope");
    });
    expect(lock.size).toBe(2);
    await expect(p2).rejects.toThrow("nope");
    await tick();
    expect(lock.size).toBe(1);
    g.resolve();
    await p1;
    await tick();
    expect(lock.size).toBe(0);
  });

  it("keeps the key while later work is still queued behind finished work", async () => {
    const lock = new KeyedLock();
    const g = gate();
    const p1 = lock.run("k", async () => "first");
    const p2 = lock.run("k", () => g.promise);
    await p1;
    await tick();
    expect(lock.size).toBe(1);
    g.resolve();
    await p2;
    await tick();
    expect(lock.size).toBe(0);
  });
});
