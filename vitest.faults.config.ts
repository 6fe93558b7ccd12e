// The fault suite (`npm run test:faults`, scripts/test-faults.mjs): the soak scenarios in faults/,
// one file at a time so each has the machine's two cores to itself; npm test runs it too.
import { defineConfig, mergeConfig } from 'vitest/config';
import base from './vitest.config.ts';

export default mergeConfig(
  base,
  defineConfig({
    test: {
      include: ['faults/**/*.soak.test.ts'],
      fileParallelism: false,
      maxWorkers: 1,
      testTimeout: 240_000,
      hookTimeout: 120_000,
    },
  }),
);
