import path from 'node:path';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    alias: {
      '@': import.meta.dirname,
      // `server-only` throws outside React Server Components; tests import server code directly.
      'server-only': path.join(import.meta.dirname, 'test/server-only.ts'),
    },
  },
  test: {
    include: ['server/**/*.test.ts', 'db/**/*.test.ts', 'test/**/*.test.ts', 'components/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Two cores: integration tests spawn agent processes, so keep parallelism modest.
    maxWorkers: 2,
  },
});
