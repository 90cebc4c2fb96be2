// A 3-node nats-server cluster with JetStream on loopback, for the R3 fault suite and for
// trying SY_REPLICAS=3 on one machine. Each node has its own client, cluster and monitoring
// port and its own store; the nodes route to each other and share one cluster name.
import fs from "node:fs";
import path from "node:path";
import { findExecutable } from "./child.ts";
import { type ServerHandle, startDaemon } from "./daemon.ts";
import { makeTempDir } from "./orphan-guard.ts";
import { freePort } from "./ports.ts";

export interface NatsClusterNode extends ServerHandle {
  /** The node's server_name (n1, n2, n3), as JetStream names peers and leaders. */
  readonly name: string;
  /** Its HTTP monitoring port (/varz, /jsz). */
  readonly monitorPort: number;
}

export interface NatsCluster {
  nodes: NatsClusterNode[];
  /** Every node's client URL, comma-separated: what NATS_URL takes. */
  url: string;
  /** The node that leads `stream` now (from /jsz), or undefined while none does. */
  streamLeader(stream: string): Promise<NatsClusterNode | undefined>;
  /** Resolves once a JetStream meta leader is known to every running node (the cluster accepts API calls). */
  waitForMetaLeader(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** The parts of nats-server's /jsz answer read here. */
interface Jsz {
  meta_cluster?: { leader?: string };
  account_details?: { stream_detail?: { name: string; cluster?: { leader?: string } }[] }[];
}

export interface StartNatsClusterOptions {
  /** Nodes (default 3). */
  size?: number;
  /** Parent of the nodes' stores; default a temporary directory removed when this process exits. */
  dataDir?: string;
  /** Append every node's output to <logDir>/nats-<name>.log. */
  logDir?: string;
}

export async function startNatsCluster(opts: StartNatsClusterOptions = {}): Promise<NatsCluster> {
  const command = findExecutable("nats-server", ["/usr/sbin/nats-server", "/usr/local/bin/nats-server"]);
  if (!command) throw new Error("nats-server not found on PATH or in /usr/sbin (run ./switchyard bootstrap)");
  const size = opts.size ?? 3;
  const root = opts.dataDir ?? makeTempDir("sy-nats-cluster-");
  const specs: { name: string; port: number; clusterPort: number; monitorPort: number }[] = [];
  for (let i = 1; i <= size; i++) {
    specs.push({ name: `n${i}`, port: await freePort(), clusterPort: await freePort(), monitorPort: await freePort() });
  }
  const routes = specs.map((s) => `nats://127.0.0.1:${s.clusterPort}`).join(",");
  const started = await Promise.allSettled(
    specs.map(async (s): Promise<NatsClusterNode> => {
      const dataDir = path.join(root, s.name);
      fs.mkdirSync(dataDir, { recursive: true });
      const handle = await startDaemon({
        name: `nats-server ${s.name}`,
        command,
        args: [
          "-js",
          "-a",
          "127.0.0.1",
          "-p",
          String(s.port),
          "-m",
          String(s.monitorPort),
          "-sd",
          dataDir,
          "--server_name",
          s.name,
          "--cluster_name",
          "sy",
          "--cluster",
          `nats://127.0.0.1:${s.clusterPort}`,
          "--routes",
          routes,
        ],
        port: s.port,
        url: `nats://127.0.0.1:${s.port}`,
        dataDir,
        readyLine: /Server is ready/,
        ...(opts.logDir ? { logFile: path.join(opts.logDir, `nats-${s.name}.log`) } : {}),
      });
      // The handle's pid is a getter (it changes on restart): extend the handle, do not copy it.
      return Object.defineProperties(handle, {
        name: { value: s.name, enumerable: true },
        monitorPort: { value: s.monitorPort, enumerable: true },
      }) as NatsClusterNode;
    }),
  );
  const nodes = started.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
  const failure = started.find((r) => r.status === "rejected");
  if (failure) {
    await Promise.allSettled(nodes.map((n) => n.stop()));
    throw failure.reason;
  }

  const jsz = async (node: NatsClusterNode, query = ""): Promise<Jsz> => {
    const res = await fetch(`http://127.0.0.1:${node.monitorPort}/jsz${query}`, { signal: AbortSignal.timeout(2000) });
    return (await res.json()) as Jsz;
  };
  const cluster: NatsCluster = {
    nodes,
    url: nodes.map((n) => n.url).join(","),
    async streamLeader(stream) {
      for (const node of nodes) {
        if (!node.isRunning()) continue;
        try {
          const info = await jsz(node, "?streams=true");
          for (const account of info.account_details ?? []) {
            for (const detail of account.stream_detail ?? []) {
              if (detail.name !== stream || !detail.cluster?.leader) continue;
              // A node may still name a leader that just died: only a running one counts.
              const leader = nodes.find((n) => n.name === detail.cluster?.leader);
              if (leader?.isRunning()) return leader;
            }
          }
        } catch {
          // That node is not answering; ask the next.
        }
      }
      return undefined;
    },
    async waitForMetaLeader(timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const leaders = await Promise.all(
          nodes
            .filter((n) => n.isRunning())
            .map((n) =>
              jsz(n).then(
                (j) => j.meta_cluster?.leader as string | undefined,
                () => undefined,
              ),
            ),
        );
        if (leaders.length > 0 && leaders.every((l) => l && l === leaders[0])) return;
        if (Date.now() > deadline) throw new Error(`no JetStream meta leader agreed by every node within ${timeoutMs} ms (saw ${leaders.join(", ")})`);
        await new Promise((r) => setTimeout(r, 200));
      }
    },
    async stop() {
      await Promise.allSettled(nodes.map((n) => n.stop()));
    },
  };
  await cluster.waitForMetaLeader();
  return cluster;
}
