// @switchyard/devkit: real nats-server, redis-server and Switchyard services as child processes,
// for the e2e and fault suites and the local fleet launcher (scripts/fleet.ts).

export type { ServerHandle } from "./daemon.ts";
export { type Fleet, type StartFleetOptions, startFleet } from "./fleet.ts";
export { type NatsServer, type StartNatsOptions, startNats } from "./nats.ts";
export { type NatsCluster, type NatsClusterNode, type StartNatsClusterOptions, startNatsCluster } from "./nats-cluster.ts";
export { freePort, portIsFree, waitForPort } from "./ports.ts";
export { type RedisServer, type StartRedisOptions, startRedis } from "./redis.ts";
export {
  type LogLine,
  type ServiceName,
  type ServiceProcess,
  type StartServiceOptions,
  startService,
  type WaitForLogOptions,
} from "./service.ts";
