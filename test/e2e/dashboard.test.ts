// The dashboard at /ui in headless Chromium against a fleet whose gateway requires an API key:
// the key typed into the page authorizes every call (the event stream included), a task
// submitted from the page streams live, its parked payment is approved from the page, and the
// list, counts and runner panels show it. Saves a screenshot (test/.artifacts/dashboard-*.png).
import { mkdirSync } from "node:fs";
import path from "node:path";
import { type Fleet, startFleet } from "@switchyard/devkit";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchBrowser } from "../src/browser.ts";
import { http } from "../src/http.ts";

const KEY = "ui-test-key";
const ARTIFACTS = path.resolve(import.meta.dirname, "../.artifacts");
let fleet: Fleet;
let G: string;
let browser: Awaited<ReturnType<typeof launchBrowser>>;
let page: Page;

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  [fleet, browser] = await Promise.all([startFleet({ env: { API_KEYS: `${KEY}:default` } }), launchBrowser()]);
  G = fleet.gatewayUrl;
  page = await browser.context.newPage();
});

afterAll(async () => {
  await browser?.close();
  await fleet?.stop();
});

describe("dashboard", () => {
  it("serves the bundle from the gateway, with nothing loaded from elsewhere", async () => {
    const html = await http("GET", `${G}/ui/`);
    expect(html.status).toBe(200);
    expect(String(html.body)).toContain('<script type="module" src="app.js">');
    expect((await http("GET", `${G}/ui/app.js`)).status).toBe(200);
    const outside: string[] = [];
    page.on("request", (r) => {
      if (!r.url().startsWith(G)) outside.push(r.url());
    });
    await page.goto(`${G}/ui/`);
    await page.locator("#flash").filter({ hasText: "unauthorized" }).waitFor({ timeout: 15_000 }); // no key yet
    expect(outside).toEqual([]);
  });

  it("submits from the page, streams the task, approves the parked payment, and lists it", async () => {
    await page.fill("#apikey", KEY);
    await page.click("#auth button");
    await page.locator('select[name=agent] option[value="pay"]').waitFor({ state: "attached", timeout: 15_000 });
    await page.selectOption("select[name=agent]", "pay");
    await page.fill("input[name=input]", "order 77");
    await page.click("#submit button");
    await page.waitForURL(/#\/task\/[\w-]+$/, { timeout: 15_000 });
    const id = page.url().split("/").at(-1) as string;

    // The stream shows the text and the tool call; the payment waits for a person.
    await page.locator(".ev.text").filter({ hasText: "I'll charge 42 EUR for order 77." }).waitFor({ timeout: 20_000 });
    await page.locator(".ev.tool").filter({ hasText: "payments.charge" }).waitFor();
    const approve = page.locator('.waiting form[data-kind=approval] button[value="approve"]');
    await approve.waitFor({ timeout: 20_000 });
    await page.fill(".waiting input[name=reason]", "looks right");
    await approve.click();

    await page.locator("#status").filter({ hasText: "completed" }).waitFor({ timeout: 30_000 });
    await expect(page.locator("#result").textContent()).resolves.toBe("Done: order 77 is settled.");
    await page.locator(".ev.approval").filter({ hasText: "approved payments.charge by client (looks right)" }).waitFor();
    await page.locator(".ev.usage").first().waitFor();
    await page.screenshot({ path: path.join(ARTIFACTS, "dashboard-task.png"), fullPage: true });
    const task = await http("GET", `${G}/v1/tasks/${id}`, undefined, { authorization: `Bearer ${KEY}` });
    expect(task.body).toMatchObject({ status: "completed", result: { text: "Done: order 77 is settled." } });

    // The list: the task, counts by status, runner nodes and kinds.
    await page.goto(`${G}/ui/#/`);
    await page.locator(`#rows a[href="#/task/${id}"]`).waitFor({ timeout: 15_000 });
    await page
      .locator('.count[data-status="completed"] b')
      .filter({ hasText: /^[1-9]/ })
      .waitFor();
    await page.locator("#runners td").filter({ hasText: "runner-1" }).waitFor({ timeout: 15_000 });
    await page.screenshot({ path: path.join(ARTIFACTS, "dashboard-list.png"), fullPage: true });
  });
});
