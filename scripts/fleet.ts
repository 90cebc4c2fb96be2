// `npm start` / `./switchyard up`: the whole fleet on this machine in one command, a sample
// task streamed to the terminal, and curl lines to try the API by hand. Ctrl-C stops it all.
//
// Env: PORT (gateway, default 8080), RUNNER_NODES (default 1), NATS_URL / REDIS_URL (use these
// servers instead of starting local ones), SY_SAMPLE=0 (skip the sample task),
// SY_EXIT_AFTER_SAMPLE=1 (stop after the sample; exit 0 if it completed, else 1: CI smoke test).
import fs from "node:fs";
import path from "node:path";
import { type Fleet, portIsFree, type ServiceProcess, startFleet } from "@switchyard/devkit";
import { createParser } from "eventsource-parser";

const repoRoot = path.resolve(import.meta.dirname, "..");
const dataDir = path.join(repoRoot, ".data");
const logDir = path.join(dataDir, "logs");
const pidFile = path.join(dataDir, "fleet.pid");
/** Where `./switchyard keys` finds this fleet's NATS (the URL carries a random port). */
const fleetFile = path.join(dataDir, "fleet.json");
const SAMPLE_TIMEOUT_MS = 60_000;

const say = (line = "") => process.stdout.write(`${line}\n`);
const warn = (line: string) => process.stderr.write(`${line}\n`);
const rel = (p: string) => path.relative(process.cwd(), p) || ".";

function intFromEnv(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) {
    warn(`${name}=${raw} is not an integer >= ${min}`);
    process.exit(2);
  }
  return value;
}

const port = intFromEnv("PORT", 8080, 1);
const runnerNodes = intFromEnv("RUNNER_NODES", 1, 1);
const natsUrl = process.env.NATS_URL || undefined;
const redisUrl = process.env.REDIS_URL || undefined;
const runSample = process.env.SY_SAMPLE !== "0";
const exitAfterSample = process.env.SY_EXIT_AFTER_SAMPLE === "1";
// Once keys exist (./switchyard keys create), the gateway requires one: the sample task uses SY_API_KEY.
const auth: Record<string, string> = process.env.SY_API_KEY ? { authorization: `Bearer ${process.env.SY_API_KEY}` } : {};

// ---- Ctrl-C / SIGTERM: first one stops the fleet in order, a second one kills it. ----------
let fleet: Fleet | undefined;
let shuttingDown = false;

async function shutdown(code: number): Promise<never> {
  shuttingDown = true;
  if (fleet) {
    say("stopping the fleet (Ctrl-C again to kill it)…");
    await fleet.stop();
    say("stopped.");
  }
  fs.rmSync(pidFile, { force: true });
  fs.rmSync(fleetFile, { force: true });
  process.exit(code);
}

function onSignal(signal: NodeJS.Signals): void {
  if (shuttingDown) {
    warn(`${signal} again: killing every process now`);
    void (fleet?.kill() ?? Promise.resolve()).finally(() => {
      fs.rmSync(pidFile, { force: true });
      process.exit(130);
    });
    return;
  }
  shuttingDown = true;
  // Still starting: startFleet cleans up after itself; we stop once it returns (see main).
  // Exit 0 after a clean stop, except in the CI smoke mode when the sample has not completed.
  if (fleet) void shutdown(exitAfterSample ? 1 : 0);
  else say(`${signal}: stopping once start-up settles (Ctrl-C again to kill)…`);
}
process.on("SIGINT", onSignal);
process.on("SIGTERM", onSignal);

// ---- Start --------------------------------------------------------------------------------------
function claimPidFile(): void {
  fs.mkdirSync(dataDir, { recursive: true });
  const other = Number.parseInt(fs.existsSync(pidFile) ? fs.readFileSync(pidFile, "utf8") : "", 10);
  if (other > 0 && other !== process.pid && isAlive(other)) {
    warn(`another fleet is already running from this checkout (pid ${other}); stop it first (kill ${other}).`);
    process.exit(1);
  }
  fs.writeFileSync(pidFile, `${process.pid}\n`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Fresh log files for this run. */
function resetLogs(): void {
  fs.mkdirSync(logDir, { recursive: true });
  for (const file of fs.readdirSync(logDir)) {
    if (file.endsWith(".log")) fs.rmSync(path.join(logDir, file), { force: true });
  }
}

/** Loud notice when a service dies while the fleet is up (it is not restarted). */
function watchForCrashes(services: ServiceProcess[]): void {
  for (const service of services) {
    void service.exited.then((code) => {
      if (shuttingDown) return;
      warn(`\n!! ${service.label} exited unexpectedly (code ${code}); see ${rel(path.join(logDir, `${service.label}.log`))}`);
      for (const line of service.logs().slice(-10)) warn(`   ${line}`);
    });
  }
}

async function main(): Promise<void> {
  claimPidFile();
  if (!(await portIsFree(port))) {
    warn(`port ${port} is already in use; choose another gateway port, e.g. PORT=8081 ./switchyard up`);
    fs.rmSync(pidFile, { force: true });
    process.exit(1);
  }
  resetLogs();
  const natsDir = path.join(dataDir, "nats");
  if (natsUrl) say(`NATS:  using ${natsUrl}`);
  else {
    fs.mkdirSync(natsDir, { recursive: true });
    say(`NATS:  starting nats-server -js (JetStream store ${rel(natsDir)}; rm -rf ${rel(dataDir)} to start afresh)`);
  }
  say(redisUrl ? `Redis: using ${redisUrl}` : "Redis: starting redis-server (in memory, no persistence)");
  say(`Logs:  ${rel(logDir)}/<service>.log   (pretty: tail -f ${rel(logDir)}/kernel.log | npx pino-pretty)`);
  say(`Starting spawner, kernel, ${runnerNodes} runner node${runnerNodes > 1 ? "s" : ""} and gateway…`);

  const startedAt = Date.now();
  try {
    fleet = await startFleet({
      ...(natsUrl ? { natsUrl } : { dataDir: natsDir }),
      ...(redisUrl ? { redisUrl } : {}),
      port,
      runnerNodes,
      logDir,
    });
  } catch (err) {
    warn(`\nThe fleet did not start: ${err instanceof Error ? err.message : String(err)}`);
    warn(`Logs: ${rel(logDir)}`);
    fs.rmSync(pidFile, { force: true });
    process.exit(1);
  }
  if (shuttingDown) await shutdown(130);

  fs.writeFileSync(fleetFile, `${JSON.stringify({ pid: process.pid, nats_url: fleet.natsUrl, redis_url: fleet.redisUrl, gateway_url: fleet.gatewayUrl })}\n`);
  const { services } = fleet;
  watchForCrashes([services.spawner, services.kernel, ...services.runners, services.gateway]);
  say();
  say(`Switchyard is up in ${((Date.now() - startedAt) / 1000).toFixed(1)} s.`);
  say(`  Gateway:  ${fleet.gatewayUrl}`);
  say(`  NATS:     ${fleet.natsUrl}`);
  say(`  Redis:    ${fleet.redisUrl}`);
  say(`  Runners:  ${services.runners.map((r) => r.label).join(", ")}`);

  let sample: SampleOutcome | undefined;
  if (runSample) {
    const outcome = await runSampleTask(fleet.gatewayUrl);
    sample = outcome;
    if (outcome.ok) say(`sample task ${outcome.taskId} completed.`);
    else {
      warn(`sample task failed: ${outcome.reason}`);
      warn(`logs: ${rel(logDir)}${exitAfterSample ? "" : " (the fleet keeps running)"}`);
    }
    if (exitAfterSample) {
      if (!shuttingDown) await shutdown(outcome.ok ? 0 : 1);
      return;
    }
  }
  if (shuttingDown) return;
  printCurlExamples(fleet.gatewayUrl, sample?.taskId, sample?.thirdEventId);
  say();
  say("Fleet is running. Ctrl-C to stop.");
  setInterval(() => {}, 1 << 30); // stay up even if every service has crashed: Ctrl-C ends us
}

// ---- The sample task ---------------------------------------------------------------------------
interface SampleOutcome {
  ok: boolean;
  taskId?: string;
  reason?: string;
  /** The id of the task's third event: a real Last-Event-ID for the resume example. */
  thirdEventId?: string;
}

async function runSampleTask(gatewayUrl: string): Promise<SampleOutcome> {
  say();
  say(`Sample task: POST ${gatewayUrl}/v1/tasks {"agent":"hello","input":"world"}`);
  const signal = AbortSignal.timeout(SAMPLE_TIMEOUT_MS);
  let taskId: string | undefined;
  try {
    const submitted = await fetch(`${gatewayUrl}/v1/tasks`, {
      method: "POST",
      headers: { "content-type": "application/json", ...auth },
      body: JSON.stringify({ agent: "hello", input: "world" }),
      signal,
    });
    const body = await submitted.text();
    if (submitted.status === 401) return { ok: false, reason: "the gateway requires an API key (keys exist in this fleet's NATS): set SY_API_KEY=<key>" };
    if (!submitted.ok) return { ok: false, reason: `POST /v1/tasks answered ${submitted.status}: ${body}` };
    const id: unknown = (JSON.parse(body) as { id?: unknown }).id;
    if (typeof id !== "string") return { ok: false, reason: `POST /v1/tasks answered without an id: ${body}` };
    taskId = id;
    say(`  → ${submitted.status} task ${taskId}; streaming ${gatewayUrl}/v1/tasks/${taskId}/events`);

    // 202 means the kernel has created the task record, so the stream opens at once.
    const stream = await openEvents(gatewayUrl, taskId, signal);
    if (!stream.ok || !stream.body) {
      return { ok: false, taskId, reason: `GET events answered ${stream.status}: ${await stream.text()}` };
    }
    let lastStatus: string | undefined;
    const eventIds: string[] = [];
    const parser = createParser({
      onEvent(event) {
        const summary = summarizeEvent(event.data);
        if (event.event === "status") lastStatus = summary.status ?? lastStatus;
        if (event.id) eventIds.push(event.id);
        say(`  ${(event.id ?? "-").padStart(3)} ${(event.event ?? "message").padEnd(13)} ${summary.text}`);
      },
    });
    const decoder = new TextDecoder();
    for await (const chunk of stream.body) parser.feed(decoder.decode(chunk, { stream: true }));
    say("  (stream ended)");

    // The task record is the authority on how it ended.
    const task = await fetch(`${gatewayUrl}/v1/tasks/${taskId}`, { headers: auth, signal });
    const record = (await task.json()) as { status?: string; error?: { code?: string; message?: string } };
    const status = record.status ?? lastStatus;
    const thirdEventId = eventIds[2];
    const seen = { taskId, ...(thirdEventId ? { thirdEventId } : {}) };
    if (status === "completed") return { ok: true, ...seen };
    const error = record.error ? ` (${record.error.code}: ${record.error.message})` : "";
    return { ok: false, ...seen, reason: `task ended ${status ?? "without a status"}${error}` };
  } catch (err) {
    const why = signal.aborted ? `no result within ${SAMPLE_TIMEOUT_MS / 1000} s` : String(err);
    return { ok: false, ...(taskId ? { taskId } : {}), reason: why };
  }
}

function openEvents(gatewayUrl: string, taskId: string, signal: AbortSignal): Promise<Response> {
  return fetch(`${gatewayUrl}/v1/tasks/${taskId}/events`, { headers: { accept: "text/event-stream", ...auth }, signal });
}

/** One line per event: the parts of `data` a person wants to see. */
function summarizeEvent(raw: string): { text: string; status?: string } {
  let event: { data?: unknown; attempt?: number };
  try {
    event = JSON.parse(raw) as { data?: unknown; attempt?: number };
  } catch {
    return { text: clip(raw) };
  }
  const data = (event.data ?? {}) as Record<string, unknown>;
  if (typeof data.status === "string") {
    const attempt = typeof data.attempt === "number" ? ` (attempt ${data.attempt})` : "";
    const error = data.error ? ` ${clip(JSON.stringify(data.error))}` : "";
    return { text: `${data.status}${attempt}${error}`, status: data.status };
  }
  if (typeof data.delta === "string") return { text: JSON.stringify(data.delta) };
  if (typeof data.tool === "string" && "args" in data) return { text: clip(`${data.tool}(${JSON.stringify(data.args)})`) };
  if (typeof data.tool === "string") return { text: clip(`${data.tool} → ${JSON.stringify(data.result ?? data.error)}`) };
  if (typeof data.content === "string") return { text: clip(JSON.stringify(data.content)) };
  return { text: clip(JSON.stringify(data)) };
}

function clip(text: string, max = 100): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

function printCurlExamples(gatewayUrl: string, taskId = "<id>", resumeAfter = "3"): void {
  const tasks = `${gatewayUrl}/v1/tasks`;
  say();
  say(`Try it${process.env.SY_API_KEY ? ' (add -H "authorization: Bearer $SY_API_KEY" to each line: the gateway requires keys)' : ""}:`);
  say("  # submit a task");
  say(`  curl -s -X POST ${tasks} -H 'content-type: application/json' -d '{"agent":"hello","input":"world"}'`);
  say("  # stream its events (Server-Sent Events) until it ends");
  say(`  curl -N ${tasks}/${taskId}/events`);
  say(`  # resume after event ${resumeAfter} (event ids are JetStream sequence numbers)`);
  say(`  curl -N -H 'Last-Event-ID: ${resumeAfter}' ${tasks}/${taskId}/events`);
  say("  # the task record");
  say(`  curl -s ${tasks}/${taskId}`);
  say("  # cancel it");
  say(`  curl -s -X POST ${tasks}/${taskId}/cancel`);
  say("  # agents and runner nodes");
  say(`  curl -s ${gatewayUrl}/v1/agents; curl -s ${gatewayUrl}/v1/runners`);
  say("  # a payment that waits for your approval (agents/pay.md), then approve its call");
  say(`  curl -s -X POST ${tasks} -H 'content-type: application/json' -d '{"agent":"pay","input":"order 1042"}'`);
  say(`  curl -s -X POST ${tasks}/<id>/approvals -H 'content-type: application/json' -d '{"call_id":"call_1_1","decision":"approve"}'`);
  say("  # a weather lookup your client answers (agents/weather.md)");
  say(`  curl -s -X POST ${tasks} -H 'content-type: application/json' -d '{"agent":"weather","input":"Lisbon"}'`);
  say(`  curl -s -X POST ${tasks}/<id>/tool-results -H 'content-type: application/json' -d '{"call_id":"call_1_1","result":{"temp_c":21.5}}'`);
}

await main();
