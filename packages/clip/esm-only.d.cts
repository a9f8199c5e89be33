// Types of @cliffguard/clip's "require" condition (esm-only.cjs). The package is ESM-only and
// require('@cliffguard/clip') throws, so this CommonJS face exports nothing and TypeScript rejects
// named imports from it too. Load the package with
//
//   const { withGradientClipping, globalNormClip } = await import('@cliffguard/clip');
export {};
