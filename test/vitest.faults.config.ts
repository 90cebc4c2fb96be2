import { defineConfig } from "vitest/config";

// Fault-injection suites kill and restart real processes: one file at a time on a 2-core machine.
export default defineConfig({
  test: {
    include: ["faults/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    fileParallelism: false,
    pool: "forks",
  },
});
