// Summarises V8 .cpuprofile files (node --cpu-prof): self time per function and per package
// or file, top N per process. Run alone: `node bench/src/profile-summary.ts <dir> [pid=label …]`.
import fs from "node:fs";
import path from "node:path";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface ProfileSummary {
  file: string;
  process: string;
  sampled_ms: number;
  /** Share of non-idle time. */
  busy_ms: number;
  top_functions: { self_pct: number; self_ms: number; fn: string; where: string }[];
  top_modules: { self_pct: number; self_ms: number; module: string }[];
}

/** `node_modules/@nats-io/jetstream/…` → `@nats-io/jetstream`; repo files → their path from the repo root. */
function moduleOf(url: string): string {
  if (!url) return "(native/V8)";
  const clean = url.replace(/^file:\/\//, "");
  const nm = clean.lastIndexOf("node_modules/");
  if (nm >= 0) {
    const rest = clean.slice(nm + "node_modules/".length).split("/");
    return rest[0]?.startsWith("@") ? `${rest[0]}/${rest[1]}` : (rest[0] ?? clean);
  }
  if (clean.startsWith("node:")) return clean;
  const m = /\/(services|packages|contracts)\/.*$/.exec(clean);
  return m ? m[0].slice(1) : clean;
}

/** A time window in µs of CLOCK_MONOTONIC (process.hrtime.bigint() / 1000n), the clock of V8 profiles. */
export interface Window {
  fromUs: number;
  toUs: number;
}

export function summarizeProfile(file: string, label: string, top = 15, window?: Window): ProfileSummary {
  const profile = JSON.parse(fs.readFileSync(file, "utf8")) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  let t = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    const delta = profile.timeDeltas[i] ?? 0;
    t += delta;
    if (window && (t < window.fromUs || t > window.toUs)) continue; // start-up and shutdown are not the load
    const id = profile.samples[i] as number;
    selfUs.set(id, (selfUs.get(id) ?? 0) + delta);
  }
  const fns = new Map<string, { us: number; fn: string; where: string }>();
  const mods = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    total += us;
    if (functionName === "(idle)") {
      idle += us;
      continue;
    }
    const where = url ? `${moduleOf(url)}:${lineNumber + 1}` : "";
    const key = `${functionName}@${where}`;
    const e = fns.get(key) ?? { us: 0, fn: functionName || "(anonymous)", where };
    e.us += us;
    fns.set(key, e);
    const mod = url ? moduleOf(url) : functionName;
    mods.set(mod, (mods.get(mod) ?? 0) + us);
  }
  const busy = total - idle;
  const pct = (us: number) => Math.round((us / Math.max(1, busy)) * 1000) / 10;
  const ms = (us: number) => Math.round(us / 100) / 10;
  return {
    file: path.basename(file),
    process: label,
    sampled_ms: ms(total),
    busy_ms: ms(busy),
    top_functions: [...fns.values()]
      .sort((a, b) => b.us - a.us)
      .slice(0, top)
      .map((e) => ({ self_pct: pct(e.us), self_ms: ms(e.us), fn: e.fn, where: e.where })),
    top_modules: [...mods.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([module, us]) => ({ self_pct: pct(us), self_ms: ms(us), module })),
  };
}

/** Every profile in `dir`, labelled by the pid in its file name (CPU.<date>.<time>.<pid>.<tid>.<seq>.cpuprofile). */
export function summarizeDir(dir: string, labels: Record<number, string>, top = 15, window?: Window): ProfileSummary[] {
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith(".cpuprofile"))
    .map((f) => {
      const pid = Number(f.split(".")[3]);
      return summarizeProfile(path.join(dir, f), labels[pid] ?? `pid ${pid}`, top, window);
    });
}

export function printSummaries(summaries: ProfileSummary[], top = 12): string {
  const out: string[] = [];
  for (const s of summaries) {
    out.push(`\n## ${s.process} — busy ${s.busy_ms} ms of ${s.sampled_ms} ms sampled (${s.file})`);
    out.push("self %  self ms  function (where)");
    for (const f of s.top_functions.slice(0, top)) out.push(`${String(f.self_pct).padStart(6)}  ${String(f.self_ms).padStart(7)}  ${f.fn} (${f.where})`);
    out.push(
      "by module: " +
        s.top_modules
          .slice(0, 8)
          .map((m) => `${m.module} ${m.self_pct}%`)
          .join(", "),
    );
  }
  return out.join("\n");
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [dir, ...pairs] = process.argv.slice(2);
  if (!dir) {
    console.error("usage: node bench/src/profile-summary.ts <dir> [pid=label …]");
    process.exit(2);
  }
  const labels: Record<number, string> = {};
  for (const p of pairs) {
    const [pid, label] = p.split("=");
    if (pid && label) labels[Number(pid)] = label;
  }
  console.log(printSummaries(summarizeDir(dir, labels)));
}
