// What every route needs: connections, buckets, config, and the caller's tenant.

import type { JetStreamClient, JetStreamManager, KV, Logger, NatsConnection, Redis } from "@switchyard/runtime";
import type { KeyStore } from "./auth.ts";
import type { GatewayEnv } from "./env.ts";
import type { EventHub } from "./event-hub.ts";
import type { Quotas } from "./quotas.ts";
import type { AnswerWaiter, SubmitWaiter } from "./submit-waiter.ts";

export interface GatewayContext {
  nc: NatsConnection;
  js: JetStreamClient;
  tasks: KV;
  agents: KV;
  idempotency: KV;
  /** Runner kinds and their config schemas (written by runner nodes). */
  runnerKinds: KV;
  /** Registered operators (written by the spawner). */
  operators: KV;
  jsm: JetStreamManager;
  redis: Redis;
  env: GatewayEnv;
  log: Logger;
  submitWaiter: SubmitWaiter;
  answerWaiter: AnswerWaiter;
  /** API keys (API_KEYS and KV sy_api_keys): who the caller is and what it may do. */
  keys: KeyStore;
  /** Per-tenant quotas in Redis. */
  quotas: Quotas;
  /** Live task events from one consumer per process, and each followed task's ring (ARCHITECTURE.md §6). */
  eventHub: EventHub;
}
