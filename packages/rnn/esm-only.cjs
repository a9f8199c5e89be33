'use strict';
// The "require" condition of @cliffguard/rnn's "exports". The package is ESM-only, so require() gets this
// file, which throws at once with the line to write instead (rather than Node's generic
// ERR_PACKAGE_PATH_NOT_EXPORTED). The code is Node's own for a require of an ES module, which
// tools that fall back to import() recognise.
const error = new Error(
  '@cliffguard/rnn is ESM-only: it cannot be loaded with require(). Load it with a dynamic import\n' +
    '(in CommonJS, inside an async function):\n' +
    '\n' +
    "  const { createRnn, createTrainer } = await import('@cliffguard/rnn');\n" +
    '\n' +
    "or, in an ES module, with import { ... } from '@cliffguard/rnn'.",
);
error.code = 'ERR_REQUIRE_ESM';
throw error;
