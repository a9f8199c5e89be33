// Checks an unpacked package tarball (the `package/` folder) for what publint and attw do not look at:
//   - LICENSE ships and is the repository's LICENSE, word for word;
//   - every JavaScript source map carries its sources (sourcesContent): src need not be read to debug;
//   - every declaration map points at sources that ship (declaration maps cannot carry sources).
// Usage: node .ci/check-tarball.mjs <unpacked package folder> <repository LICENSE>
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const [root, license] = process.argv.slice(2);
const problems = [];

const shipped = join(root, 'LICENSE');
if (!existsSync(shipped)) problems.push('LICENSE is not in the tarball');
else if (readFileSync(shipped, 'utf8') !== readFileSync(license, 'utf8'))
  problems.push("LICENSE differs from the repository's LICENSE");

function* files(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* files(path);
    else yield path;
  }
}

let maps = 0;
for (const file of files(root)) {
  if (!file.endsWith('.map')) continue;
  maps++;
  const name = relative(root, file);
  const map = JSON.parse(readFileSync(file, 'utf8'));
  const base = resolve(dirname(file), map.sourceRoot ?? '');
  map.sources.forEach((source, i) => {
    const inTarball = existsSync(resolve(base, source));
    if (file.endsWith('.d.ts.map')) {
      if (!inTarball) problems.push(`${name}: source ${source} is not in the tarball`);
    } else if (typeof map.sourcesContent?.[i] !== 'string') {
      problems.push(`${name}: no sourcesContent for ${source}`);
    }
  });
}

if (problems.length > 0) {
  console.error(`${problems.length} problem(s) in ${root}:\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log(`LICENSE matches; ${maps} source maps carry or ship their sources`);
