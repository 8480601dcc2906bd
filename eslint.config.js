// Lint: typescript-eslint's recommended rules on every workspace, plus the house rules below.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

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
    },
  },
  {
    // The pure core: no DOM, no Node built-ins, no socket.io, no simple-peer.
    files: ['shared/src/**/*.ts'],
    ignores: ['shared/src/**/*.test.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: ['node:*', 'socket.io*', 'simple-peer', '../../client/*', '../../signaling-server/*'] }],
    },
  },
  {
    files: ['e2e/**/*.ts', '**/*.test.ts', 'bench/**/*.ts', 'scripts/**/*.ts'],
    rules: { 'no-restricted-properties': 'off' },
  },
);
