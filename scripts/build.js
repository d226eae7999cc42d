#!/usr/bin/env node
// Compiles src/ to dist/ (one JavaScript file per module, no bundling) so the server and the
// `billing` command run without a TypeScript loader. Types are checked by `npm run typecheck`,
// not here: this stays fast enough to run before every `npm start`.
import { readdirSync, rmSync } from 'node:fs';
import { build } from 'esbuild';

const entryPoints = readdirSync('src', { recursive: true, encoding: 'utf8' })
  .filter((file) => file.endsWith('.ts') && !file.endsWith('.test.ts') && !file.startsWith('testing/'))
  .map((file) => `src/${file}`);

rmSync('dist', { recursive: true, force: true });
await build({
  entryPoints,
  outdir: 'dist',
  outbase: 'src',
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  logLevel: 'warning',
});
