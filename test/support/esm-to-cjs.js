// jest transform for the ES-module-only packages the code under test imports (jose 6): esbuild
// turns each file into CommonJS so jest's CommonJS runtime can load it. Jest 30 loads ESM from
// require() natively only with vm.SourceTextModule (--experimental-vm-modules), which this
// project does not run jest with. Plain CommonJS JavaScript: jest loads transformers with require.
/* global require, module -- a CommonJS file jest requires */
const { transformSync } = require('esbuild');
const { createHash } = require('node:crypto');

module.exports = {
  process(source, path) {
    const { code, map } = transformSync(source, { format: 'cjs', loader: 'js', target: 'node20', sourcemap: 'external', sourcefile: path });
    return { code, map };
  },
  getCacheKey(source, path) {
    return createHash('sha256').update('esm-to-cjs/1\0').update(path).update('\0').update(source).digest('hex');
  },
};
