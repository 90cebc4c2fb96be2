// The live heap of another Node process: a full collection, then heapUsed, through the V8
// inspector the process was started with (`--inspect=127.0.0.1:0`, which logs its URL).
const WS_URL = /Debugger listening on (ws:\/\/\S+)/;

/** The inspector URL from a process's output lines, if it has one. */
export function inspectorUrl(lines: string[]): string | undefined {
  for (const line of lines) {
    const m = WS_URL.exec(line);
    if (m) return m[1];
  }
  return undefined;
}

/** heapUsed in bytes right after a full garbage collection. */
export async function liveHeapBytes(url: string, timeoutMs = 15_000): Promise<number> {
  const ws = new WebSocket(url);
  const replies = new Map<number, (v: unknown) => void>();
  ws.addEventListener("message", (ev) => {
    const msg = JSON.parse(String(ev.data)) as { id?: number; result?: unknown };
    if (msg.id !== undefined) replies.get(msg.id)?.(msg.result);
  });
  let next = 0;
  const call = (method: string, params: Record<string, unknown> = {}) =>
    new Promise<unknown>((resolve, reject) => {
      const id = ++next;
      const timer = setTimeout(() => reject(new Error(`inspector ${method}: no answer within ${timeoutMs} ms`)), timeoutMs);
      replies.set(id, (v) => {
        clearTimeout(timer);
        resolve(v);
      });
      ws.send(JSON.stringify({ id, method, params }));
    });
  await new Promise<void>((resolve, reject) => {
    ws.addEventListener("open", () => resolve(), { once: true });
    ws.addEventListener("error", () => reject(new Error(`cannot connect to the inspector at ${url}`)), { once: true });
  });
  try {
    await call("HeapProfiler.collectGarbage");
    const r = (await call("Runtime.evaluate", { expression: "process.memoryUsage().heapUsed", returnByValue: true })) as { result: { value: number } };
    return r.result.value;
  } finally {
    ws.close();
  }
}
