// Counts this node's run slots. Fetch loops reserve slots before they pull work, so a node
// never holds more runs than it has slots, whatever the number of kinds it serves.
export class Slots {
  readonly total: number;
  #used = 0;
  #waiters: (() => void)[] = [];

  constructor(total: number) {
    this.total = total;
  }

  get used(): number {
    return this.#used;
  }
  get free(): number {
    return this.total - this.#used;
  }

  /** Takes up to `n` free slots; returns how many it took. */
  reserve(n: number): number {
    const take = Math.max(0, Math.min(n, this.free));
    this.#used += take;
    return take;
  }

  release(n = 1): void {
    if (n <= 0) return;
    this.#used = Math.max(0, this.#used - n);
    for (const w of this.#waiters.splice(0)) w();
  }

  /** Resolves when a slot is free (or at once if one is). */
  waitFree(): Promise<void> {
    if (this.free > 0) return Promise.resolve();
    return new Promise((r) => this.#waiters.push(r));
  }

  /** Wakes every waiter, e.g. on shutdown. */
  wakeAll(): void {
    for (const w of this.#waiters.splice(0)) w();
  }
}
