// `./switchyard keys`: API keys in KV `sy_api_keys`, which every gateway watches (a new or
// revoked key counts at once). Only a key's SHA-256 is stored; `create` prints the key once.
//
//   keys create --tenant T [--scope a,b] [--description text]   (scopes default: tasks:write,tasks:read,approvals:write,agents:read)
//   keys ls [--tenant T]
//   keys revoke <id>
//
// NATS: NATS_URL, else the fleet that `./switchyard up` runs from this checkout (.data/fleet.json).
import fs from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { jetstream } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { connect } from "@nats-io/transport-node";
import { ApiKeyId, ApiKeyRecord, BUCKETS, newApiKey, SCOPES, Scope, Slug } from "@switchyard/contracts";
import { natsServers, redactUrlCredentials } from "@switchyard/runtime";

const DEFAULT_SCOPES: Scope[] = ["tasks:write", "tasks:read", "approvals:write", "agents:read"];
const repoRoot = path.resolve(import.meta.dirname, "..");

function fail(message: string, code = 2): never {
  process.stderr.write(`keys: ${message}\n`);
  process.exit(code);
}

function natsUrl(): string {
  if (process.env.NATS_URL) return process.env.NATS_URL;
  const file = path.join(repoRoot, ".data", "fleet.json");
  try {
    const url = (JSON.parse(fs.readFileSync(file, "utf8")) as { nats_url?: unknown }).nats_url;
    if (typeof url === "string" && url) return url;
  } catch {
    /* no fleet file */
  }
  return fail("no NATS to talk to: set NATS_URL, or start the fleet with ./switchyard up (it writes .data/fleet.json)");
}

const usage = `Usage: ./switchyard keys <command>
  create --tenant T [--scope s1,s2] [--description text]   prints the new key once
  ls [--tenant T]                                           lists keys (never the key itself)
  revoke <id>                                               deletes a key; every gateway refuses it at once
Scopes: ${SCOPES.join(", ")} (default ${DEFAULT_SCOPES.join(",")}; admin grants all)
NATS: NATS_URL, else the fleet of ./switchyard up`;

const [command, ...rest] = process.argv.slice(2);
if (!command || command === "help" || command === "--help") {
  process.stdout.write(`${usage}\n`);
  process.exit(command ? 0 : 2);
}
const { values, positionals } = parseArgs({
  args: rest,
  allowPositionals: true,
  options: { tenant: { type: "string" }, scope: { type: "string" }, description: { type: "string" } },
});

const url = natsUrl();
const nc = await connect({ ...natsServers(url), name: "switchyard-keys", timeout: 5000 }).catch((err: unknown) =>
  fail(`cannot reach NATS at ${redactUrlCredentials(url)}: ${(err as Error).message}`, 1),
);
const kv = await new Kvm(jetstream(nc)).create(BUCKETS.apiKeys, { history: 1 });

try {
  switch (command) {
    case "create": {
      const tenant = Slug.safeParse(values.tenant);
      if (!tenant.success) fail("--tenant is required: a slug ([a-z0-9][a-z0-9_-]*)");
      const raw = values.scope ? values.scope.split(",").map((s) => s.trim()) : DEFAULT_SCOPES;
      const scopes = raw.map((s) => {
        const parsed = Scope.safeParse(s);
        return parsed.success ? parsed.data : fail(`--scope: unknown scope '${s}' (one of ${SCOPES.join(", ")})`);
      });
      const { key, record } = newApiKey(tenant.data, [...new Set(scopes)], values.description ?? "");
      await kv.create(record.id, JSON.stringify(record));
      process.stderr.write(`key ${record.id} for tenant '${record.tenant}' with scopes ${record.scopes.join(",")}; it is shown only now:\n`);
      process.stdout.write(`${key}\n`);
      break;
    }
    case "ls": {
      const rows: ApiKeyRecord[] = [];
      for await (const k of await kv.keys()) {
        const e = await kv.get(k);
        const parsed = e?.operation === "PUT" ? ApiKeyRecord.safeParse(e.json()) : null;
        if (parsed?.success && (!values.tenant || parsed.data.tenant === values.tenant)) rows.push(parsed.data);
      }
      rows.sort((a, b) => a.created_at.localeCompare(b.created_at));
      process.stdout.write(`${["id", "tenant", "scopes", "created_at", "description"].join("\t")}\n`);
      for (const r of rows) process.stdout.write(`${[r.id, r.tenant, r.scopes.join(","), r.created_at, r.description].join("\t")}\n`);
      break;
    }
    case "revoke": {
      const id = ApiKeyId.safeParse(positionals[0]);
      if (!id.success) fail("revoke needs a key id (16 hex digits; see keys ls)");
      const e = await kv.get(id.data);
      if (e?.operation !== "PUT") fail(`no key '${id.data}'`, 1);
      await kv.delete(id.data);
      process.stderr.write(`revoked ${id.data}\n`);
      break;
    }
    default:
      fail(`unknown command '${command}'\n${usage}`);
  }
} finally {
  await nc.drain();
}
