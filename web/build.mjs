// Builds the page into dist/: index.html, assets/app.js (+ app.css, which
// esbuild emits for the CSS main.ts imports) and assets/worklet.js, which the
// AudioWorklet loads as a module of its own.
import { build } from "esbuild";
import { copyFile, mkdir, rm } from "node:fs/promises";

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
