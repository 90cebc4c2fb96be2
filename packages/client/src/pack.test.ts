// The published package stands alone: `npm pack`, unpack into an empty project, import it there
// with plain Node (no type stripping, no monorepo), and type-check a consumer against its .d.ts.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, expect, it } from "vitest";

const pkgDir = path.resolve(import.meta.dirname, "..");
const repoModules = path.resolve(pkgDir, "../../node_modules");
const work = mkdtempSync(path.join(tmpdir(), "sy-client-pack-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

it("npm pack gives an ESM package with types that works outside the monorepo", () => {
  execFileSync("npm", ["pack", "--silent", "--pack-destination", work], { cwd: pkgDir, stdio: ["ignore", "ignore", "inherit"] });
  const tgz = readdirSync(work).find((f) => f.endsWith(".tgz"));
  expect(tgz).toBeDefined();
  const dest = path.join(work, "consumer/node_modules/@switchyard/client");
  mkdirSync(dest, { recursive: true });
  execFileSync("tar", ["-xzf", path.join(work, tgz as string), "-C", dest, "--strip-components=1"]);
  symlinkSync(path.join(repoModules, "eventsource-parser"), path.join(work, "consumer/node_modules/eventsource-parser"));
  const consumer = path.join(work, "consumer");
  writeFileSync(path.join(consumer, "package.json"), JSON.stringify({ type: "module" }));
  writeFileSync(
    path.join(consumer, "main.js"),
    `import { createClient, SwitchyardApiError } from "@switchyard/client";
const sy = createClient({ baseUrl: "http://127.0.0.1:1" });
console.log(typeof sy.tasks.follow, typeof sy.tasks.run, typeof SwitchyardApiError);`,
  );
  const out = execFileSync(process.execPath, ["--no-experimental-strip-types", "main.js"], { cwd: consumer, encoding: "utf8" });
  expect(out.trim()).toBe("function function function");
  writeFileSync(
    path.join(consumer, "check.ts"),
    `import { createClient } from "@switchyard/client";
const sy = createClient({ baseUrl: "http://x" });
export async function f(): Promise<string> {
  for await (const e of sy.tasks.follow("id")) if (e.type === "text.delta") return e.data.delta;
  return (await sy.tasks.get("id")).status;
}`,
  );
  writeFileSync(
    path.join(consumer, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: { strict: true, module: "NodeNext", moduleResolution: "NodeNext", target: "ES2022", lib: ["ES2022", "DOM"], noEmit: true, types: [] },
    }),
  );
  execFileSync(process.execPath, [path.join(repoModules, "typescript/bin/tsc"), "-p", "tsconfig.json"], { cwd: consumer, stdio: "inherit" });
}, 120_000);
