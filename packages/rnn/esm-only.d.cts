// Types of @cliffguard/rnn's "require" condition (esm-only.cjs). The package is ESM-only and
// require('@cliffguard/rnn') throws, so this CommonJS face exports nothing and TypeScript rejects
// named imports from it too. Load the package with
//
//   const { createRnn, createTrainer } = await import('@cliffguard/rnn');
export {};
