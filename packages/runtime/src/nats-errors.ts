// Broker errors told apart by their types and JetStream API codes, never by message text
// (a server or client upgrade may reword a message; the codes are part of the protocol).
import { JetStreamApiCodes, JetStreamApiError } from "@nats-io/jetstream";
import { NoRespondersError, RequestError, TimeoutError } from "@nats-io/nats-core";

/** JetStream API codes this project branches on (nats-server's errors.json). */
const CODES = {
  ...JetStreamApiCodes,
  /** "consumer name already in use": a durable created at the same moment with another config. */
  ConsumerNameExists: 10148,
  /** "consumer already exists": a create action for a durable that exists. */
  ConsumerAlreadyExists: 10105,
} as const;

function apiCode(err: unknown): number | undefined {
  return err instanceof JetStreamApiError ? err.code : undefined;
}

/** A compare-and-set lost: the subject's last sequence was not the one expected (KV update/create). */
export function isWrongLastSequence(err: unknown): boolean {
  const code = apiCode(err);
  return code === CODES.StreamWrongLastSequence || code === CODES.StreamWrongLastSequenceUnknown;
}

/** The stream does not exist (yet). */
export function isStreamNotFound(err: unknown): boolean {
  return apiCode(err) === CODES.StreamNotFound;
}

/** The durable consumer exists already (another process created it first). */
export function isConsumerExists(err: unknown): boolean {
  const code = apiCode(err);
  return code === CODES.ConsumerNameExists || code === CODES.ConsumerAlreadyExists;
}

/** A request found nobody subscribed to its subject. */
export function isNoResponders(err: unknown): boolean {
  if (err instanceof NoRespondersError) return true;
  if (err instanceof RequestError) return err.isNoResponders() || err.cause instanceof NoRespondersError;
  return false;
}

/** A request got no answer in time. */
export function isRequestTimeout(err: unknown): boolean {
  return err instanceof TimeoutError || (err instanceof RequestError && err.cause instanceof TimeoutError);
}
