// Lint: typescript-eslint's recommended rules on every workspace, plus the house rules below.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** Workspaces import each other by package name (`@tabswarm/...`), never by a relative path, at any depth. */
const CROSS_WORKSPACE = {
  regex: '^(\\.\\./)+(shared|signaling-server|client|launch|swarm|bench|claims|e2e)/',
  message: 'import the workspace by its package name (@tabswarm/...), not by a relative path into it',
};

export default tseslint.config(
  { ignores: ['**/node_modules/**', '**/dist/**', 'test-results/**', 'playwright-report/**', 'reports/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { ecmaVersion: 2022, sourceType: 'module' },
    rules: {
      // Shared randomness must be seeded: Math.random would make replicas diverge.
      'no-restricted-properties': ['error', { object: 'Math', property: 'random', message: 'use the seeded Rng from shared/src/rng.ts' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'off',
      'no-restricted-imports': ['error', { patterns: [CROSS_WORKSPACE] }],
    },
  },
  {
    // The pure core: no DOM, no Node built-ins, no socket.io, no simple-peer, no other workspace,
    // and tfjs only through tfjs-core (the client and the Node worker pick the backends).
    // Tests and the Node-only testing module may use Node.
    files: ['shared/src/**/*.ts'],
    ignores: ['shared/src/**/*.test.ts', 'shared/src/testing/**'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: [{ name: '@tensorflow/tfjs', message: 'shared uses @tensorflow/tfjs-core; backends are chosen by the client and the Node worker' }],
        patterns: [
          CROSS_WORKSPACE,
          { group: ['node:*', 'socket.io*', 'simple-peer', '@tabswarm/*'], message: 'the core runs unchanged in a tab and in Node' },
        ],
      }],
    },
  },
  {
    files: ['e2e/**/*.ts', '**/*.test.ts', 'bench/**/*.ts', 'scripts/**/*.ts'],
    rules: { 'no-restricted-properties': 'off' },
  },
);
