// Bundles the dashboard into dist/ (index.html, app.js, app.css): one ES module with the client
// library inside, nothing loaded from elsewhere at run time. Run by scripts/bootstrap.sh.
import { copyFileSync, mkdirSync } from "node:fs";
import path from "node:path";
import { build } from "esbuild";

const root = path.resolve(import.meta.dirname, "..");
const dist = path.join(root, "dist");
mkdirSync(dist, { recursive: true });
await build({
  entryPoints: [path.join(root, "src/main.ts")],
  bundle: true,
  format: "esm",
  target: "es2022",
  minify: true,
  sourcemap: true,
  outfile: path.join(dist, "app.js"),
  logLevel: "warning",
});
copyFileSync(path.join(root, "src/style.css"), path.join(dist, "app.css"));
// Last, so its mtime says the build is complete (bootstrap compares against it).
copyFileSync(path.join(root, "src/index.html"), path.join(dist, "index.html"));
console.log(`dashboard built into ${dist}`);
