// @ts-check
// Lint: typescript-eslint's strict and stylistic type-aware sets, tuned only where a rule fights a deliberate
// pattern (each `off` says why). Formatting belongs to Prettier (.prettierrc.json); eslint-config-prettier turns
// off every rule that would disagree with it.
import eslint from '@eslint/js';
import prettier from 'eslint-config-prettier';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

export default defineConfig(
  { ignores: ['cdk.out/', 'dist/', 'node_modules/', '.cache/', '.venv/', 'coverage/', 'bench/results/', 'rehearsal-report/'] },
  eslint.configs.recommended,
  tseslint.configs.strictTypeChecked,
  tseslint.configs.stylisticTypeChecked,
  {
    languageOptions: {
      // One program from the root tsconfig (it includes bench/): the project service would build a second one for
      // bench/tsconfig.json and cost a third more CPU.
      parserOptions: { project: './tsconfig.json', tsconfigRootDir: import.meta.dirname },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // A `!` states a fact the compiler cannot follow (Map.get after has, a field an earlier step set); the
      // alternative is an unreachable throw at each site.
      '@typescript-eslint/no-non-null-assertion': 'off',
      // Numbers and booleans read fine in messages; objects, undefined and null still need an explicit conversion.
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      // `(x) => sink(x)` as a callback is the idiom; the rule still flags a void value used anywhere else.
      '@typescript-eslint/no-confusing-void-expression': ['error', { ignoreArrowShorthand: true }],
      // `_`-prefixed names are the convention for a parameter an interface requires but the body ignores.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
  {
    files: ['test/**', 'bench/**'],
    rules: {
      // Tests walk synthesized CloudFormation templates, recorded AWS calls and JSON responses typed `any`; a wrong
      // shape fails the assertion that reads it, which is the check.
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      // Fakes implement async interfaces: `async` turns a thrown error into a rejection, as the real adapter does.
      '@typescript-eslint/require-await': 'off',
      // Tests feed values the types say cannot occur (hostile input, a crashed step's leftovers) and check for them.
      '@typescript-eslint/no-unnecessary-condition': 'off',
    },
  },
  { files: ['**/*.js', '**/*.mjs'], extends: [tseslint.configs.disableTypeChecked] },
  { files: ['jest.config.js'], languageOptions: { sourceType: 'commonjs', globals: { module: 'writable' } } },
  prettier,
);
