/// <reference lib="dom" />
// Does the dashboard stay responsive with 1,000 live tasks? Submits TASKS tasks of an agent
// that sleeps for minutes (16 run, the rest queue: all live), opens /ui in headless Chromium
// and prints, over REFRESHES list refreshes, the time to fetch the list (every page), the time
// to render counts + chart + 1,000 table rows, and the longest frame while that goes on.
// Run: eval "$(./switchyard env)" && node bench/src/dashboard-live.ts
import { createClient } from "@switchyard/client";
import { startFleet } from "@switchyard/devkit";
import { launchBrowser } from "../../test/src/browser.ts";

const TASKS = Number(process.env.TASKS ?? 1000);
const REFRESHES = Number(process.env.REFRESHES ?? 10);

const fleet = await startFleet();
let browser: Awaited<ReturnType<typeof launchBrowser>> | undefined;
try {
  const sy = createClient({ baseUrl: fleet.gatewayUrl });
  await sy.agents.put("bench-sleepy", {
    model: "scripted",
    tools: ["sleep"],
    script: [{ text: "zzz", tool: { name: "sleep", args: { ms: 600_000 } } }, { text: "up" }],
  });
  const t0 = performance.now();
  for (let i = 0; i < TASKS; i += 25) {
    await Promise.all(Array.from({ length: Math.min(25, TASKS - i) }, (_, j) => sy.tasks.submit({ agent: "bench-sleepy", input: `t${i + j}` })));
  }
  console.log(`${TASKS} tasks submitted in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const counts = new Map<string, number>();
  for await (const t of sy.tasks.listAll({ limit: 500 })) counts.set(t.status, (counts.get(t.status) ?? 0) + 1);
  console.log(`live now: ${[...counts].map(([s, n]) => `${s} ${n}`).join(", ")}`);

  browser = await launchBrowser();
  const { context } = browser;
  const page = await context.newPage();
  await page.addInitScript(() => {
    // Longest gap between animation frames: how long the page was unresponsive at worst.
    const w = window as unknown as { __frames: { max: number; over50: number; count: number } };
    w.__frames = { max: 0, over50: 0, count: 0 };
    let last = performance.now();
    const tick = (now: number) => {
      const gap = now - last;
      last = now;
      w.__frames.count++;
      if (gap > w.__frames.max) w.__frames.max = gap;
      if (gap > 50) w.__frames.over50++;
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  });
  const tOpen = performance.now();
  await page.goto(`${fleet.gatewayUrl}/ui/`);
  await page.waitForFunction((n) => (window as unknown as { __switchyard: { perf: { rows: number } } }).__switchyard.perf.rows >= n, Math.min(TASKS, 1000), {
    timeout: 120_000,
  });
  console.log(`first full list on screen ${((performance.now() - tOpen) / 1000).toFixed(2)} s after navigation`);
  await page.evaluate(() => {
    (window as unknown as { __frames: { max: number; over50: number; count: number } }).__frames = { max: 0, over50: 0, count: 0 };
  });
  const samples: { fetchMs: number; renderMs: number }[] = [];
  let seen = await page.evaluate(() => (window as unknown as { __switchyard: { perf: { refreshes: number } } }).__switchyard.perf.refreshes);
  while (samples.length < REFRESHES) {
    await page.waitForFunction((s) => (window as unknown as { __switchyard: { perf: { refreshes: number } } }).__switchyard.perf.refreshes > s, seen, {
      timeout: 60_000,
    });
    const p = await page.evaluate(
      () => (window as unknown as { __switchyard: { perf: { refreshes: number; fetchMs: number; renderMs: number; rows: number } } }).__switchyard.perf,
    );
    seen = p.refreshes;
    samples.push({ fetchMs: p.fetchMs, renderMs: p.renderMs });
  }
  const frames = await page.evaluate(() => (window as unknown as { __frames: { max: number; over50: number; count: number } }).__frames);
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
  const max = (xs: number[]) => Math.max(...xs);
  console.log(
    `list refresh with ${Math.min(TASKS, 1000)} rows (median / max of ${REFRESHES}): fetch ${median(samples.map((s) => s.fetchMs))} / ${max(samples.map((s) => s.fetchMs))} ms, render ${median(samples.map((s) => s.renderMs))} / ${max(samples.map((s) => s.renderMs))} ms`,
  );
  console.log(`frames meanwhile: ${frames.count}, longest ${frames.max.toFixed(0)} ms, ${frames.over50} over 50 ms`);
} finally {
  await browser?.close();
  await fleet.stop();
}
