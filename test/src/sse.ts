// A Server-Sent Events client for tests: follows a stream with fetch and eventsource-parser,
// keeps every event with its arrival time, and can stop early.
import { createParser } from "eventsource-parser";

export interface ReceivedEvent {
  id: number;
  type: string;
  data: { seq: number; type: string; task_id: string; run_id: string | null; attempt: number; ts: string; data: Record<string, unknown> };
  receivedAt: number;
}

export interface SseStream {
  events: ReceivedEvent[];
  /** Resolves when the server ends the stream (or `close()` is called). */
  done: Promise<ReceivedEvent[]>;
  /** Resolves with the first event matching `pred` (already received ones count). */
  waitFor(pred: (e: ReceivedEvent) => boolean, timeoutMs?: number): Promise<ReceivedEvent>;
  close(): void;
  status: Promise<number>;
}

export function openStream(url: string, headers: Record<string, string> = {}): SseStream {
  const events: ReceivedEvent[] = [];
  const waiters: { pred: (e: ReceivedEvent) => boolean; resolve: (e: ReceivedEvent) => void }[] = [];
  const ac = new AbortController();
  let resolveStatus!: (s: number) => void;
  const status = new Promise<number>((r) => (resolveStatus = r));
  const parser = createParser({
    onEvent(e) {
      const ev: ReceivedEvent = { id: Number(e.id), type: e.event ?? "message", data: JSON.parse(e.data), receivedAt: Date.now() };
      events.push(ev);
      for (const w of [...waiters]) {
        if (w.pred(ev)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(ev);
        }
      }
    },
  });
  const done = (async () => {
    try {
      const res = await fetch(url, { headers: { accept: "text/event-stream", ...headers }, signal: ac.signal });
      resolveStatus(res.status);
      if (!res.body) return events;
      const decoder = new TextDecoder();
      // Node's web streams are async-iterable; a DOM lib in scope (bench) types them without it.
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) parser.feed(decoder.decode(chunk, { stream: true }));
    } catch (err) {
      if (!ac.signal.aborted) throw err;
    }
    return events;
  })();
  return {
    events,
    done,
    status,
    close: () => ac.abort(),
    waitFor(pred, timeoutMs = 15_000) {
      const hit = events.find(pred);
      if (hit) return Promise.resolve(hit);
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no matching event within ${timeoutMs} ms; got ${events.map((e) => e.type).join(",")}`)), timeoutMs);
        waiters.push({
          pred,
          resolve: (e) => {
            clearTimeout(t);
            resolve(e);
          },
        });
        void done.then(() => {
          clearTimeout(t);
          reject(new Error(`stream ended without a matching event; got ${events.map((e) => e.type).join(",")}`));
        }, reject);
      });
    },
  };
}

/** Reads a whole stream (it must end by itself). */
export async function readStream(url: string, headers: Record<string, string> = {}): Promise<ReceivedEvent[]> {
  return openStream(url, headers).done;
}
