// Types of @cliffguard/datasets's "require" condition (esm-only.cjs). The package is ESM-only and
// require('@cliffguard/datasets') throws, so this CommonJS face exports nothing and TypeScript rejects
// named imports from it too. Load the package with
//
//   const { createTask, loadPtbChars } = await import('@cliffguard/datasets');
export {};
