// @ts-check
// Lint: typescript-eslint's strict and stylistic type-aware sets, tuned only where a rule fights a deliberate
// pattern (each `off` says why). Formatting belongs to Prettier (.prettierrc.json); eslint-config-prettier turns
// off every rule that would disagree with it.
import eslint from '@eslint/js';
import prettier from 'eslint-config-prettier';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

export default defineConfig(
  { ignores: ['cdk.out/', '**/dist/', 'node_modules/', '.cache/', '.venv/', 'coverage/', 'bench/results/', 'rehearsal-report/'] },
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
      // The deletes remove a key from a record that is a map by contract (an env, a definition's States, a copied
      // fixture); the shape is the one Node, AWS or the test hands over.
      '@typescript-eslint/no-dynamic-delete': 'off',
      // noUncheckedIndexedAccess is off, so an indexed read is typed as present: the checks this rule calls
      // unnecessary are the ones guarding such reads, untyped AWS and JSON input, and hostile test values.
      '@typescript-eslint/no-unnecessary-condition': 'off',
      // An async function that implements a Promise-returning interface (a fake, a handler, a waitUntil) turns a
      // throw into a rejection, which is what its callers handle.
      '@typescript-eslint/require-await': 'off',
      // Error subclasses re-declare the constructor to make `message` required; the rule calls that useless.
      '@typescript-eslint/no-useless-constructor': 'off',
      // On strings `||` is meant: an empty env var or NextToken counts as unset.
      '@typescript-eslint/prefer-nullish-coalescing': ['error', { ignorePrimitives: { string: true } }],
      // only-throw-error and prefer-promise-reject-errors hold this tree's throws and rejections to Errors, so a
      // `.catch((error: Error) => …)` at an entry point or in a test may read error.name and error.message.
      '@typescript-eslint/use-unknown-in-catch-callback-variable': 'off',
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
      // Lazy require: a module is loaded after the test has set its env or mocks, or only by the test that needs it.
      '@typescript-eslint/no-require-imports': 'off',
      // Saving `process.stdout.write` or a prototype method to restore it later is the point, not a call.
      '@typescript-eslint/unbound-method': 'off',
      // No-op fakes (`sleep`, `stop`) are empty on purpose.
      '@typescript-eslint/no-empty-function': 'off',
      // Test keys are ASCII by construction (base62); spreading them into characters is exact.
      '@typescript-eslint/no-misused-spread': 'off',
      // `error as UnknownClientError` reads a caught error after the test has asserted its class.
      '@typescript-eslint/no-unsafe-class-instance-assignment': 'off',
      // `jest.fn<void, …>` and set-ups that may return nothing type a value as `void`.
      '@typescript-eslint/no-invalid-void-type': 'off',
      // Tests stringify objects on purpose: to check what a provider's String() leaks, or to print any value.
      '@typescript-eslint/no-base-to-string': 'off',
    },
  },
  { files: ['**/*.js', '**/*.mjs'], extends: [tseslint.configs.disableTypeChecked] },
  { files: ['jest.config.js'], languageOptions: { sourceType: 'commonjs', globals: { module: 'writable' } } },
  // The user's CDK app the consumer test runs with node, written as a CommonJS app is.
  { files: ['test/package/*.js'], languageOptions: { sourceType: 'commonjs', globals: { require: 'readonly' } } },
  prettier,
);
