// @switchyard/client: a typed client for the Switchyard HTTP API.
export {
  type ClientOptions,
  createClient,
  type FollowOptions,
  isTerminalEvent,
  parseRetryAfter,
  type RequestOptions,
  type RetryOptions,
  type RunOptions,
  type RunResult,
  type SubmitOptions,
  SwitchyardClient,
} from "./client.ts";
export { errorFromBody, SwitchyardApiError } from "./errors.ts";
export * from "./types.ts";
