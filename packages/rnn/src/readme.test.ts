// The README's two training examples (one model, then six runs as one trainer), kept runnable:
// they are cut out of README.md and run with node against this package's build, as a user would.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The README's first js example and the members-trainer one, as one module (it continues the first). */
function examples(): string {
  const blocks = [...readFileSync(join(root, 'README.md'), 'utf8').matchAll(/```js\n([\s\S]*?)```/g)].map(
    (m) => m[1],
  );
  const sweep = blocks.find((b) => b.includes('const sweep = createTrainer('));
  if (!sweep) throw new Error('README.md: the members-trainer example is missing');
  // the second example re-imports what the first already has
  const body = sweep.replace(/^import .*@cliffguard\/rnn';\n/m, '');
  return `${blocks[0]}\n${body}\nconsole.log('tensors left', tf.memory().numTensors);\n`;
}

describe('README examples', () => {
  it('train one model and six runs (random data: at least 90% right), leaving no tensor', () => {
    // inside the package, so '@cliffguard/rnn' resolves to this build
    const dir = mkdtempSync(join(root, '.readme-'));
    try {
      const file = join(dir, 'examples.mjs');
      writeFileSync(file, examples());
      const out = execFileSync(process.execPath, [file], { encoding: 'utf8', timeout: 120_000 });
      expect(out).toMatch(/ρ\(W_rec\) = 0\.950/);
      expect(out).toMatch(/^accuracy (1|0\.9\d*)$/m);
      expect(out).toMatch(/^accuracy of run 5 (1|0\.9\d*)$/m);
      expect(out).toMatch(/^tensors left 0$/m);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);
});
