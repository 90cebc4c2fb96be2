// Renders Switchyard's Kubernetes manifests from values (deploy/k8s/values.yaml, overridden by
// later files): Deployments with probes, resources and a non-root security context; the
// gateway Service; PodDisruptionBudgets; NetworkPolicies; and per runner pool a KEDA
// ScaledObject that scales on backlog plus in-flight runs with a scale-down stabilization
// window, and a termination grace that covers the runner's drain.
//   node deploy/k8s/render.ts [values.yaml …] > switchyard.yaml
import fs from "node:fs";
import path from "node:path";
import { parse, stringify } from "yaml";

type Resources = { requests?: Record<string, string>; limits?: Record<string, string> };

export interface RunnerPool {
  name: string;
  serveLocal: boolean;
  kinds: string[];
  slots: number;
  minReplicas: number;
  maxReplicas: number;
  drainTimeoutMs: number;
  resources: Resources;
}

export interface Values {
  image: string;
  imagePullPolicy: string;
  connectionSecret: string;
  apiKeysSecret: string;
  syReplicas: 1 | 3;
  logLevel: string;
  metricsPort: number;
  networkPolicy: { enabled: boolean; metricsFromNamespace: string; natsPort: number; redisPort: number; runnerEgressPorts: number[] };
  gateway: { replicas: number; port: number; resources: Resources };
  kernel: { replicas: number; resources: Resources };
  spawner: { replicas: number; resources: Resources };
  runnerPools: RunnerPool[];
  keda: { enabled: boolean; prometheusServer: string; pollingInterval: number; scaleDownStabilizationSeconds: number; cooldownPeriod: number };
}

type Manifest = { apiVersion: string; kind: string; metadata: { name: string; labels?: Record<string, string> }; [k: string]: unknown };

const PART_OF = "switchyard";
const SLUG = /^[a-z0-9][a-z0-9-]*$/;

function merge(a: unknown, b: unknown): unknown {
  if (b === undefined) return a;
  if (a && b && typeof a === "object" && typeof b === "object" && !Array.isArray(a) && !Array.isArray(b)) {
    const out: Record<string, unknown> = { ...(a as Record<string, unknown>) };
    for (const [k, v] of Object.entries(b as Record<string, unknown>)) out[k] = merge(out[k], v);
    return out;
  }
  return b;
}

export function loadValues(files: string[]): Values {
  let values: unknown = {};
  for (const f of files) values = merge(values, parse(fs.readFileSync(f, "utf8")));
  const v = values as Values;
  if (v.syReplicas !== 1 && v.syReplicas !== 3) throw new Error(`syReplicas must be 1 or 3, not ${v.syReplicas}`);
  for (const p of v.runnerPools ?? []) {
    if (!SLUG.test(p.name)) throw new Error(`runnerPools[].name must be a slug: ${p.name}`);
    if (!p.serveLocal && p.kinds.length === 0) throw new Error(`runner pool ${p.name} serves no kind (serveLocal false, kinds empty)`);
  }
  return v;
}

const labels = (component: string) => ({ "app.kubernetes.io/name": component, "app.kubernetes.io/part-of": PART_OF });

/** The kinds a pool serves, as the runner-pool reads them (RUNNER_SERVE_LOCAL, RUNNER_KINDS). */
export const servedKinds = (p: RunnerPool): string[] => [...(p.serveLocal ? ["local"] : []), ...p.kinds];

/** The PromQL of a kind's load: tasks waiting plus tasks running (the kernel replicas report the same index: max). */
export const loadQuery = (kind: string): string => `max(sum by (pod) (sy_tasks{service="kernel",kind="${kind}",status=~"queued|running"})) or vector(0)`;

function deployment(
  v: Values,
  component: string,
  opts: { replicas?: number; args: string; env?: Record<string, unknown>[]; resources: Resources; healthPort: number; readyPath: string; grace?: number },
): Manifest {
  const env: Record<string, unknown>[] = [
    { name: "NATS_URL", valueFrom: { secretKeyRef: { name: v.connectionSecret, key: "NATS_URL" } } },
    { name: "REDIS_URL", valueFrom: { secretKeyRef: { name: v.connectionSecret, key: "REDIS_URL" } } },
    ...(opts.env ?? []),
  ];
  const ports = [{ name: "metrics", containerPort: v.metricsPort }];
  if (component === "gateway") ports.unshift({ name: "http", containerPort: v.gateway.port });
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: component, labels: labels(component) },
    spec: {
      ...(opts.replicas === undefined ? {} : { replicas: opts.replicas }),
      selector: { matchLabels: labels(component) },
      template: {
        metadata: {
          labels: labels(component),
          annotations: { "prometheus.io/scrape": "true", "prometheus.io/port": String(component === "gateway" ? v.gateway.port : v.metricsPort) },
        },
        spec: {
          ...(opts.grace ? { terminationGracePeriodSeconds: opts.grace } : {}),
          securityContext: { runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000, fsGroup: 1000, seccompProfile: { type: "RuntimeDefault" } },
          containers: [
            {
              name: component,
              image: v.image,
              imagePullPolicy: v.imagePullPolicy,
              args: [opts.args],
              envFrom: [{ configMapRef: { name: "switchyard" } }],
              env,
              ports,
              resources: opts.resources,
              readinessProbe: { httpGet: { path: opts.readyPath, port: opts.healthPort }, periodSeconds: 5, failureThreshold: 3 },
              livenessProbe: { httpGet: { path: "/healthz", port: opts.healthPort }, periodSeconds: 10, failureThreshold: 6, initialDelaySeconds: 10 },
              securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } },
              volumeMounts: [{ name: "tmp", mountPath: "/tmp" }],
            },
          ],
          volumes: [{ name: "tmp", emptyDir: {} }],
        },
      },
    },
  };
}

function pdb(component: string): Manifest {
  return {
    apiVersion: "policy/v1",
    kind: "PodDisruptionBudget",
    metadata: { name: component, labels: labels(component) },
    spec: { maxUnavailable: 1, selector: { matchLabels: labels(component) } },
  };
}

function networkPolicies(v: Values, components: string[]): Manifest[] {
  const np = v.networkPolicy;
  const dns = {
    ports: [
      { protocol: "UDP", port: 53 },
      { protocol: "TCP", port: 53 },
    ],
  };
  const backends = {
    ports: [
      { protocol: "TCP", port: np.natsPort },
      { protocol: "TCP", port: np.redisPort },
    ],
  };
  const metricsFrom = {
    from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": np.metricsFromNamespace } } }],
    ports: [{ protocol: "TCP", port: v.metricsPort }],
  };
  return components.map((component) => {
    const isGateway = component === "gateway";
    const isRunner = component.startsWith("runner-");
    const ingress: unknown[] = [metricsFrom];
    // The gateway's API is open to any client (auth is API keys); the others take no traffic but metrics.
    if (isGateway) ingress.push({ ports: [{ protocol: "TCP", port: v.gateway.port }] });
    const egress: unknown[] = [dns, backends];
    if (isRunner && np.runnerEgressPorts.length > 0) egress.push({ ports: np.runnerEgressPorts.map((port) => ({ protocol: "TCP", port })) });
    return {
      apiVersion: "networking.k8s.io/v1",
      kind: "NetworkPolicy",
      metadata: { name: component, labels: labels(component) },
      spec: { podSelector: { matchLabels: labels(component) }, policyTypes: ["Ingress", "Egress"], ingress, egress },
    };
  });
}

function scaledObject(v: Values, pool: RunnerPool): Manifest {
  const name = `runner-${pool.name}`;
  return {
    apiVersion: "keda.sh/v1alpha1",
    kind: "ScaledObject",
    metadata: { name, labels: labels(name) },
    spec: {
      scaleTargetRef: { name },
      minReplicaCount: pool.minReplicas,
      maxReplicaCount: pool.maxReplicas,
      pollingInterval: v.keda.pollingInterval,
      cooldownPeriod: v.keda.cooldownPeriod,
      advanced: {
        horizontalPodAutoscalerConfig: {
          behavior: {
            scaleDown: { stabilizationWindowSeconds: v.keda.scaleDownStabilizationSeconds, policies: [{ type: "Pods", value: 1, periodSeconds: 60 }] },
            scaleUp: { stabilizationWindowSeconds: 0, policies: [{ type: "Percent", value: 100, periodSeconds: 15 }] },
          },
        },
      },
      // One trigger per kind the pool serves: its tasks waiting plus running, a pod's slots each.
      // Counting running tasks keeps busy pods: KEDA never scales below what is in flight.
      triggers: servedKinds(pool).map((kind) => ({
        type: "prometheus",
        name: `load-${kind}`,
        metadata: { serverAddress: v.keda.prometheusServer, query: loadQuery(kind), threshold: String(pool.slots), activationThreshold: "0" },
      })),
    },
  };
}

export function render(v: Values): Manifest[] {
  const out: Manifest[] = [];
  out.push({
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "switchyard", labels: labels("switchyard") },
    data: { SY_REPLICAS: String(v.syReplicas), LOG_LEVEL: v.logLevel, LOG_FORMAT: "json", METRICS_PORT: String(v.metricsPort) },
  });
  out.push(
    deployment(v, "gateway", {
      replicas: v.gateway.replicas,
      args: "services/gateway/src/index.ts",
      env: [
        { name: "PORT", value: String(v.gateway.port) },
        { name: "API_KEYS", valueFrom: { secretKeyRef: { name: v.apiKeysSecret, key: "API_KEYS" } } },
      ],
      resources: v.gateway.resources,
      healthPort: v.gateway.port,
      readyPath: "/readyz",
    }),
  );
  out.push({
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "gateway", labels: labels("gateway") },
    spec: { selector: labels("gateway"), ports: [{ name: "http", port: 80, targetPort: v.gateway.port }] },
  });
  out.push(
    deployment(v, "kernel", {
      replicas: v.kernel.replicas,
      args: "services/kernel/src/index.ts",
      resources: v.kernel.resources,
      healthPort: v.metricsPort,
      readyPath: "/healthz",
    }),
  );
  out.push(
    deployment(v, "spawner", {
      replicas: v.spawner.replicas,
      args: "services/spawner/src/index.ts",
      env: [{ name: "AGENTS_DIR", value: "/app/agents" }],
      resources: v.spawner.resources,
      healthPort: v.metricsPort,
      readyPath: "/healthz",
    }),
  );
  const components = ["gateway", "kernel", "spawner"];
  for (const pool of v.runnerPools) {
    const name = `runner-${pool.name}`;
    components.push(name);
    out.push(
      deployment(v, name, {
        // KEDA owns the replica count of a scaled pool.
        ...(v.keda.enabled ? {} : { replicas: pool.minReplicas }),
        args: "services/runner-pool/src/index.ts",
        env: [
          { name: "RUNNER_SERVE_LOCAL", value: String(pool.serveLocal) },
          { name: "RUNNER_KINDS", value: pool.kinds.join(",") },
          { name: "RUNNER_SLOTS", value: String(pool.slots) },
          { name: "DRAIN_TIMEOUT_MS", value: String(pool.drainTimeoutMs) },
          { name: "NODE_ID", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
        ],
        resources: pool.resources,
        healthPort: v.metricsPort,
        readyPath: "/healthz",
        // SIGTERM drains: runs may finish for DRAIN_TIMEOUT_MS, then are handed back; 15 s to report and exit.
        grace: Math.ceil(pool.drainTimeoutMs / 1000) + 15,
      }),
    );
    if (v.keda.enabled) out.push(scaledObject(v, pool));
  }
  for (const c of components) out.push(pdb(c));
  if (v.networkPolicy.enabled) out.push(...networkPolicies(v, components));
  return out;
}

export function renderYaml(v: Values): string {
  return render(v)
    .map((m) => stringify(m, { lineWidth: 0 }))
    .join("---\n");
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) {
  const files = process.argv.slice(2);
  process.stdout.write(renderYaml(loadValues(files.length ? files : [path.join(import.meta.dirname, "values.yaml")])));
}
