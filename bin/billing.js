#!/usr/bin/env node
// The `billing` command runs the compiled CLI (dist/, made by `npm run build`, which `npm install` runs).
import { existsSync } from 'node:fs';
import process from 'node:process';
import { URL } from 'node:url';

const main = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(main)) {
  process.stderr.write('billing: dist/ is missing; run `npm run build` first\n');
  process.exit(2);
}
process.setSourceMapsEnabled(true);
await import(main.href);
