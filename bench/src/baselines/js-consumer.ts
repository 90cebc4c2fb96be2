// The consuming half of the bare JetStream round trip: a durable pull consumer that acks every
// message and then tells the publisher (core NATS `bench.done`, the message's id as payload),
// so the publisher observes publish → consume → ack end to end, as a client observes a task.
import { jetstream } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { exitWithParent } from "../proc.ts";

const nc = await connect({ servers: process.env.NATS_URL ?? "nats://127.0.0.1:4222", name: "bench-consumer" });
const js = jetstream(nc);
const consumer = await js.consumers.get(process.env.STREAM ?? "BENCH", process.env.CONSUMER ?? "bench");
const messages = await consumer.consume({ max_messages: Number(process.env.PULL_BATCH ?? 256) });
console.log(JSON.stringify({ ready: true }));
exitWithParent(async () => {
  await messages.close();
  await nc.close();
});

for await (const m of messages) {
  m.ack();
  nc.publish("bench.done", m.data);
}
