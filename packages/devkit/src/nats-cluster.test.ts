// The 3-node cluster as the harness starts it: one meta leader, R3 streams placed on all
// three nodes, a stream leader that can be found and killed, and a node that comes back.
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { afterAll, describe, expect, it } from "vitest";
import { type NatsCluster, startNatsCluster } from "./nats-cluster.ts";

describe("startNatsCluster", () => {
  let cluster: NatsCluster | undefined;
  afterAll(async () => {
    await cluster?.stop();
  });

  it("starts three routed JetStream nodes that hold an R3 stream and survive losing its leader", async () => {
    cluster = await startNatsCluster();
    expect(cluster.nodes.map((n) => n.name)).toEqual(["n1", "n2", "n3"]);
    expect(cluster.url.split(",")).toHaveLength(3);
    const nc = await connect({ servers: cluster.url.split(","), maxReconnectAttempts: -1, reconnectTimeWait: 100 });
    try {
      const jsm = await jetstreamManager(nc);
      const info = await jsm.streams.add({ name: "R3TEST", subjects: ["r3.>"], num_replicas: 3 });
      expect(info.config.num_replicas).toBe(3);
      expect(1 + (info.cluster?.replicas?.length ?? 0), "leader + replicas").toBe(3);
      const leader = await cluster.streamLeader("R3TEST");
      expect(leader?.name).toBe(info.cluster?.leader);
      await leader!.kill("SIGKILL");
      // Another node takes over and the stream keeps its replicas' data.
      let next: string | undefined;
      for (let i = 0; i < 100 && !next; i++) {
        next = (await cluster.streamLeader("R3TEST"))?.name;
        if (!next) await new Promise((r) => setTimeout(r, 200));
      }
      expect(next).toBeDefined();
      expect(next).not.toBe(leader!.name);
      await leader!.restart();
      await cluster.waitForMetaLeader();
    } finally {
      await nc.close();
    }
  }, 90_000);
});
