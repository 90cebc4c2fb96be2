// The runner kinds every node has an initializer for. A node serves only those named in
// RUNNER_KINDS (and `local` unless RUNNER_SERVE_LOCAL=false).
import type { RunnerEnv } from "../env.ts";
import { localKind } from "./local.ts";
import type { AnyRunnerKind } from "./registry.ts";

export function builtinKinds(_env: RunnerEnv): AnyRunnerKind[] {
  return [localKind];
}
