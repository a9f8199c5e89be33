import { main } from './cli.js';

// pnpm may pass a lone "--" through; commander would read everything after it as operands
const args = process.argv.slice(2).filter((a, i) => !(i === 0 && a === '--'));
await main([process.argv[0], process.argv[1], ...args]);
