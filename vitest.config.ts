import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'client/**/*.test.ts'],
    globalSetup: ['src/testing/global-setup.ts'],
    setupFiles: ['src/testing/contract-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Two workers use both cores of a small machine (vitest's default there is one): the embedded
    // database runs in each worker's own process, and PostgreSQL serves two files at once.
    maxWorkers: 2,
  },
});
