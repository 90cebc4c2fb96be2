// The Switchyard dashboard: plain TypeScript and the DOM, bundled by esbuild with the client
// library. Views (hash routes): #/ tasks (counts, filters, submit, throughput, runners),
// #/task/<id> one task's live stream with approval and tool-result forms, #/runners.
// With API keys on the gateway, the key typed in the header is kept in sessionStorage and sent
// as a bearer token; the event stream is read with fetch (not EventSource) so the header goes too.
import { createClient, SwitchyardApiError, type SwitchyardClient, type TaskEvent, type TaskStatus, type TaskView } from "@switchyard/client";

const STATUSES: TaskStatus[] = ["queued", "running", "input_required", "completed", "failed", "canceled"];
const KEY_STORE = "switchyard.apiKey";
const app = document.getElementById("app") as HTMLElement;

/** Figures a test or a person can read from the console: the last list refresh. */
interface Perf {
  rows: number;
  fetchMs: number;
  renderMs: number;
  refreshes: number;
}
const perf: Perf = { rows: 0, fetchMs: 0, renderMs: 0, refreshes: 0 };
(window as unknown as { __switchyard: { perf: Perf } }).__switchyard = { perf };

let sy: SwitchyardClient = makeClient();
function makeClient(): SwitchyardClient {
  const key = sessionStorage.getItem(KEY_STORE) ?? "";
  return createClient({ baseUrl: location.origin, ...(key ? { apiKey: key } : {}), retry: { attempts: 3 } });
}

const keyInput = document.getElementById("apikey") as HTMLInputElement;
keyInput.value = sessionStorage.getItem(KEY_STORE) ?? "";
(document.getElementById("auth") as HTMLFormElement).addEventListener("submit", (e) => {
  e.preventDefault();
  if (keyInput.value) sessionStorage.setItem(KEY_STORE, keyInput.value);
  else sessionStorage.removeItem(KEY_STORE);
  sy = makeClient();
  const f = document.getElementById("flash");
  if (f) f.style.display = "none";
  void route();
});

const esc = (s: unknown): string =>
  String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] as string);
const json = (v: unknown): string => esc(JSON.stringify(v, null, 1)?.replace(/\n\s*/g, " ") ?? "");
function age(iso: string | null | undefined): string {
  if (!iso) return "-";
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  return s < 60
    ? `${s}s`
    : s < 3600
      ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`
      : `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

function flash(err: unknown) {
  let el = document.getElementById("flash");
  if (!el) {
    el = document.createElement("div");
    el.id = "flash";
    document.body.append(el);
  }
  const msg = err instanceof SwitchyardApiError ? `${err.code}: ${err.message}` : String((err as Error)?.message ?? err);
  el.textContent = err instanceof SwitchyardApiError && err.status === 401 ? `${msg} — enter an API key above` : msg;
  el.style.display = "block";
  setTimeout(() => {
    if (el) el.style.display = "none";
  }, 6000);
}

// ---- routing: each view gets an AbortSignal that ends when the route changes ----------------
let viewAbort = new AbortController();
async function route(): Promise<void> {
  viewAbort.abort();
  viewAbort = new AbortController();
  const signal = viewAbort.signal;
  const hash = location.hash.replace(/^#/, "") || "/";
  const task = /^\/task\/([\w-]+)$/.exec(hash);
  try {
    if (task) await taskView(task[1] as string, signal);
    else if (hash === "/runners") await runnersView(signal, true);
    else await tasksView(signal);
  } catch (err) {
    if (!signal.aborted) flash(err);
  }
}
window.addEventListener("hashchange", () => void route());

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((r) => {
    const t = setTimeout(r, ms);
    signal.addEventListener(
      "abort",
      () => {
        clearTimeout(t);
        r();
      },
      { once: true },
    );
  });

// ---- tasks ------------------------------------------------------------------------------------
const filters: { status: TaskStatus | ""; agent: string } = { status: "", agent: "" };

async function tasksView(signal: AbortSignal): Promise<void> {
  app.innerHTML = `
    <h2>New task</h2>
    <form class="submit" id="submit"><select name="agent" required></select><input name="input" placeholder="input" required><button>Submit</button></form>
    <h2>Tasks</h2>
    <div class="counts" id="counts"></div>
    <div class="row"><label>agent <select id="agent-filter"><option value="">all</option></select></label><span class="muted" id="listed"></span></div>
    <div class="row" style="margin-top:.6rem">
      <div><h2 style="margin-top:0">Finished per 10 s, last 10 min</h2><canvas id="chart" width="620" height="140"></canvas></div>
      <div id="runners" style="flex:1"></div>
    </div>
    <h2>Recent</h2>
    <table><thead><tr><th>ID</th><th>AGENT</th><th>STATUS</th><th>ATTEMPT</th><th>AGE</th><th>NODE</th></tr></thead><tbody id="rows"></tbody></table>`;
  const form = document.getElementById("submit") as HTMLFormElement;
  const agentSel = form.elements.namedItem("agent") as HTMLSelectElement;
  const agentFilter = document.getElementById("agent-filter") as HTMLSelectElement;
  const agents = await sy.agents.list({ signal });
  agentSel.innerHTML = agents
    .map((a) => `<option value="${esc(a.name)}">${esc(a.name)}${a.description ? ` — ${esc(a.description.slice(0, 50))}` : ""}</option>`)
    .join("");
  agentFilter.innerHTML = `<option value="">all</option>${agents.map((a) => `<option ${a.name === filters.agent ? "selected" : ""}>${esc(a.name)}</option>`).join("")}`;
  agentFilter.onchange = () => {
    filters.agent = agentFilter.value;
    kick();
  };
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const input = (form.elements.namedItem("input") as HTMLInputElement).value;
    try {
      const t = await sy.tasks.submit({ agent: agentSel.value, input });
      location.hash = `#/task/${t.id}`;
    } catch (err) {
      flash(err);
    }
  });
  document.getElementById("counts")?.addEventListener("click", (e) => {
    const s = (e.target as HTMLElement).closest("[data-status]")?.getAttribute("data-status");
    if (s === null || s === undefined) return;
    filters.status = filters.status === s ? "" : (s as TaskStatus);
    kick();
  });

  let wake: () => void = () => {};
  const kick = () => wake();
  void runnersView(signal, false);
  while (!signal.aborted) {
    try {
      await refreshTasks(signal);
    } catch (err) {
      if (signal.aborted) return;
      flash(err);
    }
    await Promise.race([sleep(2000, signal), new Promise<void>((r) => (wake = r))]);
  }
}

/** Reads every task (up to 5,000, newest first) and renders counts, chart and the table. */
async function refreshTasks(signal: AbortSignal): Promise<void> {
  const t0 = performance.now();
  const all: TaskView[] = [];
  for await (const t of sy.tasks.listAll({ limit: 500, ...(filters.agent ? { agent: filters.agent } : {}) }, { signal })) {
    all.push(t);
    if (all.length >= 5000) break;
  }
  const t1 = performance.now();
  if (signal.aborted) return;
  const counts = new Map<string, number>(STATUSES.map((s) => [s, 0]));
  for (const t of all) counts.set(t.status, (counts.get(t.status) ?? 0) + 1);
  (document.getElementById("counts") as HTMLElement).innerHTML = [["", all.length] as const, ...[...counts].map(([s, n]) => [s, n] as const)]
    .map(([s, n]) => `<span class="count ${filters.status === s ? "on" : ""} s-${s}" data-status="${s}"><b>${n}</b>${s || "all"}</span>`)
    .join("");
  const shown = filters.status ? all.filter((t) => t.status === filters.status) : all;
  const now = Date.now();
  (document.getElementById("rows") as HTMLElement).innerHTML = shown
    .slice(0, 1000)
    .map(
      (t) =>
        `<tr><td class="id"><a href="#/task/${esc(t.id)}">${esc(t.id)}</a></td><td>${esc(t.agent)}</td><td class="s-${t.status}">${t.status}</td><td>${t.attempt}</td><td>${age(t.created_at)}</td><td>${esc(t.live?.node_id ?? "-")}</td></tr>`,
    )
    .join("");
  (document.getElementById("listed") as HTMLElement).textContent =
    `${shown.length} shown${shown.length > 1000 ? " (first 1000 in the table)" : ""}; refreshed ${new Date(now).toLocaleTimeString()}`;
  drawThroughput(all, now);
  const t2 = performance.now();
  Object.assign(perf, { rows: Math.min(shown.length, 1000), fetchMs: Math.round(t1 - t0), renderMs: Math.round(t2 - t1), refreshes: perf.refreshes + 1 });
}

function drawThroughput(tasks: TaskView[], now: number) {
  const canvas = document.getElementById("chart") as HTMLCanvasElement | null;
  const g = canvas?.getContext("2d");
  if (!canvas || !g) return;
  const buckets = 60;
  const ok = new Array<number>(buckets).fill(0);
  const bad = new Array<number>(buckets).fill(0);
  for (const t of tasks) {
    if (!t.finished_at) continue;
    const i = buckets - 1 - Math.floor((now - Date.parse(t.finished_at)) / 10_000);
    if (i < 0 || i >= buckets) continue;
    if (t.status === "completed") ok[i] = (ok[i] ?? 0) + 1;
    else bad[i] = (bad[i] ?? 0) + 1;
  }
  const max = Math.max(1, ...ok.map((v, i) => v + (bad[i] ?? 0)));
  const W = canvas.width;
  const H = canvas.height - 16;
  g.clearRect(0, 0, W, canvas.height);
  const bw = W / buckets;
  for (let i = 0; i < buckets; i++) {
    const h1 = ((ok[i] ?? 0) / max) * (H - 4);
    const h2 = ((bad[i] ?? 0) / max) * (H - 4);
    g.fillStyle = "#1f7a3a";
    g.fillRect(i * bw + 1, H - h1, bw - 2, h1);
    g.fillStyle = "#b3261e";
    g.fillRect(i * bw + 1, H - h1 - h2, bw - 2, h2);
  }
  g.fillStyle = "#6b6b66";
  g.font = "11px system-ui";
  g.fillText(`max ${max} / 10 s`, 4, 12);
  g.fillText("-10 min", 2, canvas.height - 3);
  g.fillText("now", W - 24, canvas.height - 3);
}

// ---- runners ----------------------------------------------------------------------------------
async function runnersView(signal: AbortSignal, own: boolean): Promise<void> {
  if (own) app.innerHTML = `<div id="runners"></div>`;
  while (!signal.aborted) {
    try {
      const [nodes, kinds] = await Promise.all([sy.runners.list({ signal }), sy.runners.kinds({ signal })]);
      const el = document.getElementById("runners");
      if (!el || signal.aborted) return;
      el.innerHTML = `
        <h2 style="margin-top:0">Runner nodes</h2>
        <table><thead><tr><th>NODE</th><th>KINDS</th><th>SLOTS USED</th><th>UP</th><th>STATE</th></tr></thead><tbody>${nodes
          .map(
            (n) =>
              `<tr><td>${esc(n.id)}</td><td>${esc(n.kinds.join(", "))}</td><td>${n.slots.used} / ${n.slots.total}</td><td>${age(n.started_at)}</td><td>${n.draining ? "draining" : "ready"}</td></tr>`,
          )
          .join("")}</tbody></table>
        <h2>Runner kinds</h2>
        <table><thead><tr><th>KIND</th><th>NODES</th><th>FREE SLOTS</th><th>QUEUE DEPTH</th></tr></thead><tbody>${kinds
          .map((k) => `<tr><td>${esc(k.kind)}</td><td>${k.nodes}</td><td>${k.free_slots}</td><td>${k.queue_depth}</td></tr>`)
          .join("")}</tbody></table>`;
    } catch (err) {
      if (signal.aborted) return;
      flash(err);
    }
    await sleep(3000, signal);
  }
}

// ---- one task ---------------------------------------------------------------------------------
async function taskView(id: string, signal: AbortSignal): Promise<void> {
  app.innerHTML = `<div id="head"></div><div id="waiting"></div><h2>Events</h2><div class="events" id="events"><span class="muted">connecting…</span></div>`;
  const head = document.getElementById("head") as HTMLElement;
  const waiting = document.getElementById("waiting") as HTMLElement;
  const list = document.getElementById("events") as HTMLElement;

  const renderTask = (t: TaskView) => {
    head.innerHTML = `
      <h2>${esc(t.agent)} <span class="s-${t.status}" id="status">${t.status}</span></h2>
      <div class="muted">${esc(t.id)} · attempt ${t.attempt} · created ${age(t.created_at)} ago · tokens ${t.usage.input_tokens} in / ${t.usage.output_tokens} out${t.live?.node_id ? ` · on ${esc(t.live.node_id)}` : ""}</div>
      <div>input: <code>${esc(typeof t.input === "string" ? t.input : JSON.stringify(t.input))}</code></div>
      ${t.result ? `<div>result: <b id="result">${esc(t.result.text)}</b></div>` : ""}
      ${t.error ? `<div class="error">error: ${esc(t.error.code)}: ${esc(t.error.message)}</div>` : ""}
      ${["completed", "failed", "canceled"].includes(t.status) ? "" : `<p><button class="reject" id="cancel">Cancel task</button></p>`}`;
    document.getElementById("cancel")?.addEventListener("click", () => void sy.tasks.cancel(id, { reason: "canceled from the dashboard" }).catch(flash));
    const calls = (t.pending?.calls ?? []).filter((c) => c.kind !== "run" && c.answer === null);
    waiting.innerHTML = calls
      .map((c) =>
        c.kind === "approval"
          ? `<div class="waiting" data-call="${esc(c.call_id)}"><b>Approval needed</b>: <code>${esc(c.tool)}(${json(c.args)})</code> <span class="muted">${esc(c.reason ?? "")}</span>
              <form data-kind="approval"><input name="reason" placeholder="reason (optional)"><button name="decision" value="approve">Approve</button><button name="decision" value="reject" class="reject">Reject</button></form></div>`
          : `<div class="waiting" data-call="${esc(c.call_id)}"><b>External tool</b>: <code>${esc(c.tool)}(${json(c.args)})</code> waits for its result
              <form data-kind="external"><textarea name="result" placeholder='result as JSON, e.g. {"temp_c": 21}'></textarea><button>Send result</button><button name="as_error" value="1" class="reject">Send as error</button></form></div>`,
      )
      .join("");
    for (const f of waiting.querySelectorAll("form")) {
      f.addEventListener("submit", async (e) => {
        e.preventDefault();
        const callId = f.closest("[data-call]")?.getAttribute("data-call") as string;
        const submitter = (e as SubmitEvent).submitter as HTMLButtonElement | null;
        try {
          if (f.dataset.kind === "approval") {
            const reason = (f.elements.namedItem("reason") as HTMLInputElement).value;
            await sy.approvals.decide(id, { call_id: callId, decision: submitter?.value === "reject" ? "reject" : "approve", ...(reason ? { reason } : {}) });
          } else {
            const raw = (f.elements.namedItem("result") as HTMLTextAreaElement).value;
            if (submitter?.value === "1") await sy.toolResults.post(id, { call_id: callId, error: raw || "failed" });
            else {
              let result: unknown;
              try {
                result = JSON.parse(raw);
              } catch {
                throw new Error("the result must be valid JSON");
              }
              await sy.toolResults.post(id, { call_id: callId, result });
            }
          }
          f.closest(".waiting")?.remove();
        } catch (err) {
          flash(err);
        }
      });
    }
  };

  renderTask(await sy.tasks.get(id, { signal }));
  list.innerHTML = "";
  let textBlock: HTMLElement | null = null;
  let textKey = "";
  const toolRows = new Map<string, HTMLElement>();
  const add = (cls: string, e: TaskEvent, html: string): HTMLElement => {
    const div = document.createElement("div");
    div.className = `ev ${cls}`;
    div.dataset.type = e.type;
    div.innerHTML = `<span class="meta">#${e.seq} a${e.attempt}</span>${html}`;
    list.append(div);
    return div;
  };
  let refreshPending = false;
  const refresh = () => {
    if (refreshPending) return;
    refreshPending = true;
    setTimeout(() => {
      refreshPending = false;
      sy.tasks.get(id, { signal }).then(renderTask, (err) => signal.aborted || flash(err));
    }, 50);
  };
  for await (const e of sy.tasks.follow(id, { signal })) {
    switch (e.type) {
      case "text.delta": {
        const key = `${e.attempt}:${e.data.round}`;
        if (!textBlock || key !== textKey) {
          textBlock = add("text", e, "");
          textKey = key;
        }
        textBlock.append(document.createTextNode(e.data.delta));
        continue; // stays in the same block
      }
      case "status":
        add(
          "status",
          e,
          `<span class="s-${e.data.status}">${e.data.status}</span>${e.data.reason ? ` <span class="muted">${esc(e.data.reason)}</span>` : ""}${e.data.error ? ` <span class="error">${esc(e.data.error.code)}: ${esc(e.data.error.message)}</span>` : ""}`,
        );
        refresh();
        break;
      case "tool.call":
        // A result shows on its call's line only within one attempt: a call answered after a
        // park (an approval, an external tool) runs in a later attempt, and gets a line of its own.
        toolRows.set(
          `${e.attempt}:${e.data.call_id}`,
          add(
            "tool",
            e,
            `→ <code>${esc(e.data.tool)}(${json(e.data.args)})</code>${e.data.external ? ' <span class="muted">external</span>' : ""} <span class="res"></span>`,
          ),
        );
        break;
      case "tool.result": {
        const html = e.data.error
          ? `<span class="error">✗ ${esc(e.data.error.code)}: ${esc(e.data.error.message)}</span>`
          : `← <code>${json(e.data.result)}</code>`;
        const row = toolRows.get(`${e.attempt}:${e.data.call_id}`)?.querySelector(".res");
        if (row) row.innerHTML = html;
        else add("tool", e, `${esc(e.data.tool)} ${html}`);
        break;
      }
      case "approval.requested":
        add(
          "approval",
          e,
          `waiting: approval requested for <code>${esc(e.data.tool)}(${json(e.data.args)})</code> <span class="muted">${esc(e.data.reason)}</span>`,
        );
        refresh();
        break;
      case "approval.decided":
        add(
          "approval",
          e,
          `${e.data.decision === "approve" ? "✓ approved" : "✗ rejected"} ${esc(e.data.tool)} by ${e.data.by}${e.data.reason ? ` (${esc(e.data.reason)})` : ""}`,
        );
        break;
      case "usage":
        add("usage", e, `<span class="muted">tokens: ${e.data.input_tokens} in, ${e.data.output_tokens} out</span>`);
        break;
      case "error":
        add("error", e, `${esc(e.data.code)}: ${esc(e.data.message)}`);
        break;
      default:
        continue; // step.start / step.finish / message: the text block shows it
    }
    textBlock = null;
  }
}

void route();
