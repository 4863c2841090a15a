// Side-effect CSS imports: esbuild bundles them into assets/app.css.
declare module "*.css";
