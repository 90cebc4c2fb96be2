// A nats-server with JetStream and its HTTP monitoring port, so a run can count what each task
// costs on the wire: messages and bytes in/out (/varz) and JetStream API calls (/jsz). Started
// by devkit like every other nats-server (found in /usr/sbin too, cleaned up if the bench dies).
import { freePort, type NatsServer, startNats } from "@switchyard/devkit";

export interface MonitoredNats {
  url: string;
  pid: number;
  /** Cumulative counters: msgs_in, msgs_out, bytes_in, bytes_out, js_api. */
  counters(): Promise<Record<string, number>>;
  stop(): Promise<void>;
}

export async function startMonitoredNats(): Promise<MonitoredNats> {
  const monitor = await freePort();
  const server: NatsServer = await startNats({ monitorPort: monitor });
  const get = async (p: string) => (await (await fetch(`http://127.0.0.1:${monitor}${p}`)).json()) as Record<string, unknown>;
  return {
    url: server.url,
    pid: server.pid,
    async counters() {
      const [varz, jsz] = await Promise.all([get("/varz"), get("/jsz")]);
      const api = (jsz.api ?? {}) as { total?: number };
      return {
        msgs_in: Number(varz.in_msgs),
        msgs_out: Number(varz.out_msgs),
        bytes_in: Number(varz.in_bytes),
        bytes_out: Number(varz.out_bytes),
        js_api: Number(api.total ?? 0),
      };
    },
    stop: () => server.stop(),
  };
}
