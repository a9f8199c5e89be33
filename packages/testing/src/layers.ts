/**
 * The module graph of a source folder, for tests that keep a package's layers honest: every
 * module's local imports (types, re-exports and dynamic imports included), read by TypeScript's
 * own pre-processor; a circle finder; the imports that run up a layer order.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, posix, relative, sep } from 'node:path';
import ts from 'typescript';

export interface ModuleImports {
  /** the modules of the folder it imports, as paths relative to it ('engines/js.ts') */
  local: string[];
  /** the packages it imports ('@tensorflow/tfjs-core') */
  packages: string[];
}

/** Every `.ts` module under `src` but tests (`*.test.ts`) and `skip`, with what it imports. */
export function moduleImports(src: string, skip: readonly string[] = []): Map<string, ModuleImports> {
  const files = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
      const path = join(dir, e.name);
      if (e.isDirectory()) return files(path);
      return e.name.endsWith('.ts') ? [relative(src, path).split(sep).join('/')] : [];
    });
  const graph = new Map<string, ModuleImports>();
  for (const file of files(src)
    .filter((f) => !f.endsWith('.test.ts') && !skip.includes(f))
    .sort()) {
    const { importedFiles } = ts.preProcessFile(readFileSync(join(src, file), 'utf8'), true, true);
    const names = importedFiles.map((i) => i.fileName);
    const local = names
      .filter((name) => name.startsWith('./') || name.startsWith('../'))
      .map((name) => posix.normalize(posix.join(posix.dirname(file), name)).replace(/\.js$/, '.ts'))
      // outside the folder (generated files, another package's build): not a module of it
      .filter((path) => !path.startsWith('../'));
    const packages = names.filter((name) => !name.startsWith('.'));
    graph.set(file, { local: [...new Set(local)], packages: [...new Set(packages)] });
  }
  return graph;
}

/** The local-import graph alone. */
export function localGraph(graph: Map<string, ModuleImports>): Map<string, string[]> {
  return new Map([...graph].map(([file, { local }]) => [file, local]));
}

/** One circle of `graph` as a path a → … → a, or null. */
export function findCircle(graph: Map<string, readonly string[]>): string[] | null {
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (node: string): string[] | null => {
    if (state.get(node) === 'done') return null;
    if (state.get(node) === 'open') return [...path.slice(path.indexOf(node)), node];
    state.set(node, 'open');
    path.push(node);
    for (const next of graph.get(node) ?? []) {
      const circle = visit(next);
      if (circle) return circle;
    }
    path.pop();
    state.set(node, 'done');
    return null;
  };
  for (const node of graph.keys()) {
    const circle = visit(node);
    if (circle) return circle;
  }
  return null;
}

/** The imports of `graph` that go to a higher layer (by `rank`, bottom 0), as 'from → to'. */
export function upwardImports(
  graph: Map<string, readonly string[]>,
  rank: (file: string) => number,
): string[] {
  return [...graph].flatMap(([from, local]) =>
    local.filter((to) => rank(to) > rank(from)).map((to) => `${from} → ${to}`),
  );
}
