// A census of the NATS messages a no-op task costs, by kind (`npm run census -w bench`): a real
// fleet (devkit, as the bench starts it), a wildcard subscriber on `>` that sees every message
// the server routes (client publishes, JetStream acks, deliveries to consumers and KV watchers,
// API requests and replies), and `BENCH_CENSUS_CLIENTS` closed-loop clients running the no-op agent for
// `BENCH_CENSUS_MS`. Each message is counted once, under the kind its subject (and for replies,
// its reply subject, status header or body) says; the table gives messages per task by kind.
// It is the breakdown behind "NATS messages per task" in BENCHMARKS.md and ARCHITECTURE.md.
import { connect } from "@nats-io/transport-node";
import { closedLoop, type HttpSide } from "./load.ts";
import { AGENTS, defineAgent, fleetPids, startSwitchyard } from "./switchyard.ts";

const clients = Number(process.env.BENCH_CENSUS_CLIENTS ?? 32);
const measureMs = Number(process.env.BENCH_CENSUS_MS ?? 5000);

function kindOf(subject: string, reply: string | undefined, status: string | undefined, body: Uint8Array): string {
  if (subject.startsWith("$JS.ACK.")) return `ack of a delivery (${subject.split(".")[2]})`;
  // A delivery to a consumer keeps the stored subject; its reply subject is the ack subject.
  if (reply?.startsWith("$JS.ACK.")) return `delivery to a consumer (${reply.split(".")[2]})`;
  if (subject.startsWith("$JS.API.CONSUMER.MSG.NEXT.")) return `pull request (${subject.split(".")[5]})`;
  if (subject.startsWith("$JS.API.DIRECT.GET.") || subject.startsWith("$JS.API.STREAM.MSG.GET.")) return `KV/stream read (${subject.split(".")[4]})`;
  if (subject.startsWith("$JS.API.")) return `JetStream API ${subject.split(".").slice(2, 4).join(".")}`;
  if (subject.startsWith("$KV.")) return `KV write (${subject.split(".")[1]})`;
  if (subject.startsWith("$JS.FC.")) return "flow control";
  if (subject.startsWith("sy.")) {
    const parts = subject.split(".");
    if (parts[1] === "events") return "event publish (sy.events.*)";
    if (parts[1] === "work") return "work item publish (sy.work.*)";
    if (parts[1] === "cmd") return `command publish (${parts.slice(1, parts[2] === "run" ? 4 : 3).join(".")})`;
    return `${parts.slice(0, 3).join(".")}${reply ? " (request)" : ""}`;
  }
  // Everything else goes to an inbox: a status, an ack or a reply.
  if (status) return `consumer status ${status}`;
  const head = new TextDecoder().decode(body.subarray(0, 40));
  if (head.startsWith('{"stream"')) return "publish ack (PubAck)";
  if (head.includes("io.nats.jetstream.api")) return "JetStream API reply";
  return "reply / notify (core)";
}

const fleet = await startSwitchyard({ runnerNodes: 1, logLevel: "info", runnerEnv: { RUNNER_SLOTS: "256" } });
try {
  await defineAgent(fleet, "noop", AGENTS.noop);
  const nc = await connect({ servers: fleet.natsUrl, name: "census" });
  const counts = new Map<string, number>();
  let counting = false;
  let traced: string | null = null;
  const trace: string[] = [];
  nc.subscribe(">", {
    callback: (_err, m) => {
      if (!counting) return;
      if (process.env.BENCH_CENSUS_TRACE) {
        if (!traced && m.subject === "sy.cmd.submit") traced = /"task_id":"([^"]+)"/.exec(new TextDecoder().decode(m.data))?.[1] ?? null;
        const text = new TextDecoder().decode(m.data);
        if (traced && (m.subject.includes(traced) || text.includes(traced)))
          trace.push(`${m.subject}${m.reply ? ` reply=${m.reply}` : ""} ${text.slice(0, 80)}`);
      }
      const k = kindOf(m.subject, m.reply, m.headers?.code ? `${m.headers.code} ${m.headers.description}` : undefined, m.data);
      counts.set(k, (counts.get(k) ?? 0) + 1);
    },
  });
  await nc.flush();
  const side: HttpSide = { name: "switchyard", baseUrl: fleet.gatewayUrl, agent: "noop", pids: fleetPids(fleet) };
  await closedLoop(side, clients, 1000, 500); // warm-up
  counting = true;
  const point = await closedLoop(side, clients, 0, measureMs);
  counting = false;
  await nc.flush();
  // Tasks submitted while counting (the closed loop's own count leaves out the ones in flight at its ends).
  const tasks = counts.get("command publish (cmd.submit)") ?? point.tasks;
  if (trace.length) console.log(trace.join("\n"));
  const rows = [...counts.entries()].sort((a, b) => b[1] - a[1]);
  const total = rows.reduce((n, [, c]) => n + c, 0);
  console.log(`NATS messages per no-op task, by kind (${tasks} tasks, ${clients} clients, ${point.tasks_per_s} tasks/s)`);
  console.log("| kind | per task |\n|---|---|");
  for (const [k, c] of rows) console.log(`| ${k} | ${(c / tasks).toFixed(2)} |`);
  console.log(`| **total** | **${(total / tasks).toFixed(2)}** |`);
  await nc.close();
} finally {
  await fleet.stop();
}
