#!/usr/bin/env node
// Launcher: the CLI lives in dist/ (built by `pnpm build`).
import { existsSync } from 'node:fs';

const cli = new URL('../dist/cli-main.js', import.meta.url);
if (!existsSync(cli)) {
  console.error('bench: dist/ is missing; run `pnpm build` first (from the repository root)');
  process.exit(2);
}
await import(cli.href);
