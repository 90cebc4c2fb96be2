import { defineConfig } from "vitest/config";

// Cross-service suites start real processes: one file at a time on a 2-core machine.
export default defineConfig({
  test: {
    include: ["e2e/**/*.test.ts", "deploy/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 90_000,
    fileParallelism: false,
    pool: "forks",
  },
});
