// A service's life: parse config, connect, start, log "ready", and stop cleanly on SIGINT,
// SIGTERM or (when started by the dev harness) the parent closing our stdin.
import type { z } from "zod";
import { BaseEnv, loadEnv, redactConfig } from "./env.ts";
import { createLogger, type Logger } from "./logger.ts";
import { initTracing } from "./tracing.ts";

export interface ServiceContext<E> {
  env: E;
  log: Logger;
}

export interface StartedService {
  /** Fields for the "ready" log line (the gateway adds its url). */
  readyInfo?: Record<string, unknown>;
  /** Stops work, drains and closes connections. Called once. */
  stop: (signal: string) => Promise<void>;
}

export async function runService<S extends z.ZodObject>(
  name: string,
  envSchema: S,
  start: (ctx: ServiceContext<z.infer<typeof BaseEnv> & z.infer<S>>) => Promise<StartedService>,
): Promise<void> {
  const env = loadEnv(name, BaseEnv.extend(envSchema.shape)) as z.infer<typeof BaseEnv> & z.infer<S>;
  const log = createLogger(name, { level: env.LOG_LEVEL, format: env.LOG_FORMAT });
  log.info({ config: redactConfig(env as Record<string, unknown>) }, "config");

  // Off unless OTEL_EXPORTER_OTLP_ENDPOINT is set (see tracing.ts).
  const stopTracing = await initTracing(name);
  if (stopTracing) log.info({ endpoint: process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? process.env.OTEL_EXPORTER_OTLP_ENDPOINT }, "tracing on");

  process.on("unhandledRejection", (err) => log.error({ err }, "unhandled rejection"));
  process.on("uncaughtException", (err) => {
    log.fatal({ err }, "uncaught exception");
    process.exit(1);
  });

  let started: StartedService;
  try {
    started = await start({ env, log });
  } catch (err) {
    log.fatal({ err }, "failed to start");
    process.exit(1);
  }

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) {
      if (signal !== "stdin") {
        log.warn({ signal }, "second signal: exiting now");
        process.exit(1);
      }
      return;
    }
    stopping = true;
    log.info({ signal }, "stopping");
    const force = setTimeout(() => {
      log.error("stop took too long; exiting");
      process.exit(1);
    }, 30_000);
    force.unref();
    try {
      await started.stop(signal);
      await stopTracing?.();
      log.info("stopped");
      process.exit(0);
    } catch (err) {
      log.error({ err }, "error while stopping");
      process.exit(1);
    }
  };
  process.on("SIGINT", () => void stop("SIGINT"));
  process.on("SIGTERM", () => void stop("SIGTERM"));
  if (process.env.SY_EXIT_ON_STDIN_CLOSE === "1") {
    process.stdin.on("end", () => void stop("stdin"));
    process.stdin.on("error", () => void stop("stdin"));
    process.stdin.resume();
  }
  log.info(started.readyInfo ?? {}, "ready");
}
