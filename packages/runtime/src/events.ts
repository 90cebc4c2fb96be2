// Publishing task events to SY_EVENTS: one subject per task, headers for cheap routing,
// Nats-Msg-Id for idempotent re-publish. Used by the kernel (status) and runners (the rest).

import type { JetStreamClient, PubAck } from "@nats-io/jetstream";
import { headers as natsHeaders } from "@nats-io/transport-node";
import { EventHeaders, type EventType, type StoredEvent, subjects } from "@switchyard/contracts";
import { encodeJson } from "./codec.ts";
import { injectTrace } from "./tracing.ts";

export interface EventTarget {
  tenant: string;
  agent: string;
  task_id: string;
}

export function buildEvent(target: EventTarget, runId: string | null, attempt: number, type: EventType, data: unknown): StoredEvent {
  return { task_id: target.task_id, run_id: runId, attempt, ts: new Date().toISOString(), type, data };
}

export function publishEvent(js: JetStreamClient, target: EventTarget, event: StoredEvent, msgId: string): Promise<PubAck> {
  const h = natsHeaders();
  h.set(EventHeaders.type, event.type);
  if (event.run_id) h.set(EventHeaders.runId, event.run_id);
  h.set(EventHeaders.attempt, String(event.attempt));
  if (event.type === "status") h.set(EventHeaders.status, (event.data as { status: string }).status);
  injectTrace(h);
  return js.publish(subjects.events(target.tenant, target.agent, target.task_id), encodeJson(event), { msgID: msgId, headers: h });
}
