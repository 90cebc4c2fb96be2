// How the CLI shows things to a person: a live task stream (text on stdout, everything else on
// stderr, so `switchyard run … > answer.txt` keeps only the answer), tables, ages.
import type { TaskEvent, TaskView } from "@switchyard/client";

export interface Out {
  out: (s: string) => void;
  err: (s: string) => void;
  color: boolean;
}

const paint = (on: boolean, code: number, s: string) => (on ? `\x1b[${code}m${s}\x1b[0m` : s);
export const dim = (o: Out, s: string) => paint(o.color, 2, s);
export const bold = (o: Out, s: string) => paint(o.color, 1, s);
export const red = (o: Out, s: string) => paint(o.color, 31, s);
export const green = (o: Out, s: string) => paint(o.color, 32, s);
export const yellow = (o: Out, s: string) => paint(o.color, 33, s);
export const cyan = (o: Out, s: string) => paint(o.color, 36, s);

export function short(v: unknown, max = 200): string {
  const s = typeof v === "string" ? v : JSON.stringify(v);
  return s === undefined ? "" : s.length > max ? `${s.slice(0, max)}…` : s;
}

/** Renders a stream of events for a person; keeps track of whether the last output ended a line. */
export class StreamRenderer {
  #o: Out;
  #midLine = false;
  constructor(o: Out) {
    this.#o = o;
  }
  #line(s: string) {
    if (this.#midLine) this.#o.out("\n");
    this.#midLine = false;
    this.#o.err(`${s}\n`);
  }
  event(e: TaskEvent): void {
    const o = this.#o;
    switch (e.type) {
      case "text.delta":
        o.out(e.data.delta);
        this.#midLine = !e.data.delta.endsWith("\n");
        return;
      case "status": {
        const d = e.data;
        const extra = d.status === "failed" && d.error ? `: ${d.error.code}: ${d.error.message}` : d.reason ? ` (${d.reason})` : "";
        const colour = d.status === "completed" ? green : d.status === "failed" ? red : d.status === "input_required" ? yellow : dim;
        this.#line(colour(o, `● ${d.status}${e.attempt > 1 ? ` (attempt ${e.attempt})` : ""}${extra}`));
        return;
      }
      case "tool.call":
        this.#line(cyan(o, `→ ${e.data.tool}(${short(e.data.args)})`));
        if (e.data.external) this.#line(yellow(o, `  waits for its result: switchyard tool-result ${e.task_id} ${e.data.call_id} '<json>'`));
        return;
      case "tool.result":
        this.#line(
          e.data.error ? red(o, `← ${e.data.tool}: error ${e.data.error.code}: ${e.data.error.message}`) : dim(o, `← ${e.data.tool}: ${short(e.data.result)}`),
        );
        return;
      case "approval.requested":
        this.#line(yellow(o, `? approval needed for ${e.data.tool}(${short(e.data.args)}) — ${e.data.reason}`));
        this.#line(yellow(o, `  answer: switchyard approve|reject ${e.task_id} ${e.data.call_id}`));
        return;
      case "approval.decided":
        this.#line(
          (e.data.decision === "approve" ? green : red)(
            o,
            `✓ ${e.data.tool}: ${e.data.decision === "approve" ? "approved" : "rejected"} by ${e.data.by}${e.data.reason ? ` (${e.data.reason})` : ""}`,
          ),
        );
        return;
      case "usage":
        this.#line(dim(o, `  tokens: ${e.data.input_tokens} in, ${e.data.output_tokens} out`));
        return;
      case "error":
        this.#line(red(o, `! ${e.data.code}: ${e.data.message}`));
        return;
      default:
        return; // step.start, step.finish, message: the text already showed it
    }
  }
  end(): void {
    if (this.#midLine) this.#o.out("\n");
    this.#midLine = false;
  }
}

export function age(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return "-";
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
  return `${Math.floor(s / 86400)}d`;
}

export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const fmt = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd();
  return `${[fmt(headers), ...rows.map(fmt)].join("\n")}\n`;
}

export function taskRows(tasks: TaskView[]): string[][] {
  const now = Date.now();
  return tasks.map((t) => [t.id, t.agent, t.status, String(t.attempt), age(t.created_at, now), t.live?.node_id ?? "-"]);
}
export const TASK_HEADERS = ["ID", "AGENT", "STATUS", "ATTEMPT", "AGE", "NODE"];
