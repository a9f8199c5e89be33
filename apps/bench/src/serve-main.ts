import { startServer } from './node/server.js';

const arg = process.argv.indexOf('--port');
const port = arg > 0 ? Number(process.argv[arg + 1]) : 8080;
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`serve: --port must be an integer 0-65535, got ${process.argv[arg + 1]}`);
  process.exit(2);
}
const { url } = await startServer(port);
console.log(`cliffguard bench page: ${url}  (add ?autorun=1 to start at once; Ctrl-C stops)`);
