// The runner kinds every node has an initializer for. A node serves only those named in
// RUNNER_KINDS (and `local` unless RUNNER_SERVE_LOCAL=false).
import type { RunnerEnv } from "../env.ts";
import { a2aKind } from "./a2a.ts";
import { LOCAL_DESCRIPTION, type ModelLoopDeps, modelLoopKind } from "./local.ts";
import { processKind } from "./process.ts";
import type { AnyRunnerKind } from "./registry.ts";

export function builtinKinds(env: RunnerEnv, deps: ModelLoopDeps = {}): AnyRunnerKind[] {
  return [
    modelLoopKind("local", LOCAL_DESCRIPTION, deps),
    processKind({ agentsDir: env.PROCESS_AGENTS_DIR, stopGraceMs: env.PROCESS_STOP_GRACE_MS, envAllow: env.PROCESS_ENV_ALLOW }),
    a2aKind({ requestTimeoutMs: env.A2A_REQUEST_TIMEOUT_MS }),
  ];
}
