// Types of @cliffguard/fused's "require" condition (esm-only.cjs). The package is ESM-only and
// require('@cliffguard/fused') throws, so this CommonJS face exports nothing and TypeScript rejects
// named imports from it too. Load the package with
//
//   const { fusedImplementation, kernelInfo } = await import('@cliffguard/fused');
export {};
