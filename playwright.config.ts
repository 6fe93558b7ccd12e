import path from 'node:path';
import { defineConfig } from '@playwright/test';

/** The e2e suite runs the production build with a small demo fleet in a fresh data folder. */
export const E2E_PORT = Number(process.env.TERN_E2E_PORT ?? 3310);
export const E2E_DATA_DIR = path.resolve(process.env.TERN_E2E_DATA_DIR ?? '.tern-e2e');
export const E2E_ADMIN_PASSWORD = 'e2e-admin-password';

export default defineConfig({
  testDir: 'e2e',
  timeout: 90_000,
  expect: { timeout: 15_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: [['list']],
  // One fleet for the whole run: specs that only look go first, then those that move volumes,
  // each after the last, so no spec finds the fleet changed under it.
  projects: [
    { name: 'fleet', testMatch: /skeleton\.spec\.ts/ },
    { name: 'migration', testMatch: /migration\.spec\.ts/, dependencies: ['fleet'] },
    { name: 'evacuation', testMatch: /evacuation\.spec\.ts/, dependencies: ['migration'] },
    { name: 'liveness', testMatch: /agent-liveness\.spec\.ts/, dependencies: ['evacuation'] },
  ],
  use: {
    baseURL: `http://localhost:${E2E_PORT}`,
    viewport: { width: 1280, height: 800 },
    trace: 'retain-on-failure',
    launchOptions: {
      executablePath: process.env.TERN_CHROMIUM ?? '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'],
    },
  },
  webServer: {
    command: 'node e2e/serve.mjs',
    url: `http://localhost:${E2E_PORT}/sign-in`,
    timeout: 240_000,
    reuseExistingServer: false,
    stdout: 'pipe',
    env: {
      PORT: String(E2E_PORT),
      TERN_DATA_DIR: E2E_DATA_DIR,
      TERN_ADMIN_PASSWORD: E2E_ADMIN_PASSWORD,
      TERN_DEMO_SIZE: 'small',
      NEXT_TELEMETRY_DISABLED: '1',
    },
  },
});
