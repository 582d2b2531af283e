import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/helpers/web-build.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Suites share the real Redis/Postgres; each uses its own prefix/database, so files may run in parallel.
    fileParallelism: true,
    pool: 'forks',
  },
});
