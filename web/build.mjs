// Builds the page into dist/: index.html, assets/app.js (+ app.css, which
// esbuild emits for the CSS main.ts imports) and assets/worklet.js, which the
// AudioWorklet loads as a module of its own. The sources are type-checked
// first (tsc --noEmit, strict tsconfig.json): esbuild only strips types, so
// without this a type error would reach the bundle; with it, setup (and so
// `make test`) fails on one.
import { build } from "esbuild";
import { execFileSync } from "node:child_process";
import { copyFile, mkdir, rm } from "node:fs/promises";

try {
  execFileSync("node_modules/.bin/tsc", ["--noEmit", "-p", "."], { stdio: "inherit" });
} catch {
  console.error("web: type errors (tsc --noEmit above)");
  process.exit(1);
}

await rm("dist/assets", { recursive: true, force: true });
await mkdir("dist/assets", { recursive: true });
await build({
  entryPoints: { app: "src/main.ts", worklet: "src/worklet.ts" },
  outdir: "dist/assets",
  bundle: true,
  minify: true,
  format: "esm",
  target: "es2022",
  logLevel: "warning",
});
await copyFile("src/index.html", "dist/index.html");
