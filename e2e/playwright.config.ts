import { defineConfig } from '@playwright/test';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '@tabswarm/launch';
import { E2E_PORT } from './harness.ts';

export default defineConfig({
  testDir: '.',
  testMatch: '*.spec.ts',
  outputDir: '../test-results',
  // Tabs share two cores: one test file at a time.
  workers: 1,
  fullyParallel: false,
  timeout: 5 * 60_000,
  retries: 0,
  reporter: [['list']],
  use: {
    launchOptions: { executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS },
    headless: true,
  },
  webServer: {
    command: `npm run serve -w @tabswarm/signaling-server -- --port ${E2E_PORT} --host 127.0.0.1`,
    cwd: '..',
    url: `http://127.0.0.1:${E2E_PORT}/healthz`,
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: 'pipe',
    stderr: 'pipe',
  },
});
