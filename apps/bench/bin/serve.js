#!/usr/bin/env node
// Launcher: serves the bench page on 127.0.0.1 (built by `pnpm build`).
import { existsSync } from 'node:fs';

const main = new URL('../dist/serve-main.js', import.meta.url);
if (!existsSync(main)) {
  console.error('serve: dist/ is missing; run `pnpm build` first (from the repository root)');
  process.exit(2);
}
await import(main.href);
