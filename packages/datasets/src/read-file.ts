import { readFile } from 'node:fs/promises';

/** What a data file's read failure means to a user, by Node's error code. */
const MEANINGS: Record<string, string> = {
  EISDIR: 'is a directory, not a file',
  ENOENT: 'does not exist',
  EACCES: 'cannot be read (permission denied)',
  ENOTDIR: 'is not reachable: a part of its path is a file, not a directory',
};

/**
 * Reads a data file, turning Node's bare errors ("EISDIR: illegal operation on a directory, read",
 * which names no path) into one that names the path, what is wrong and what was expected.
 */
export async function readDataFile(path: string, what: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    const meaning = MEANINGS[code] ?? `could not be read (${(err as Error).message})`;
    throw new Error(`${what}: ${path} ${meaning}; expected ${what} there`, { cause: err });
  }
}
