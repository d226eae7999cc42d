#!/usr/bin/env node
// Compiles src/ to dist/ (one JavaScript file per module, no bundling) so the server and the
// `billing` command run without a TypeScript loader. Types are checked by `npm run typecheck`,
// not here. `--if-stale` (what `npm start` runs first) leaves dist/ alone while it is newer than
// every source file, so a start never rewrites a built, read-only install.
import { existsSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import process from 'node:process';
import { build } from 'esbuild';

const sources = readdirSync('src', { recursive: true, encoding: 'utf8' })
  .filter((file) => file.endsWith('.ts') && !file.endsWith('.test.ts') && !file.startsWith('testing/'))
  .map((file) => `src/${file}`);
const stamp = 'dist/.built';

const stale = () => {
  if (!existsSync(stamp)) return true;
  const built = statSync(stamp).mtimeMs;
  return ['src', ...sources].some((path) => statSync(path).mtimeMs > built);
};

if (!process.argv.includes('--if-stale') || stale()) {
  rmSync('dist', { recursive: true, force: true });
  await build({
    entryPoints: sources,
    outdir: 'dist',
    outbase: 'src',
    format: 'esm',
    platform: 'node',
    target: 'node20',
    sourcemap: true,
    logLevel: 'warning',
  });
  writeFileSync(stamp, ''); // its time is what counts
}
