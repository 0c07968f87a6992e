import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    // Integration suites each start their own DynamoDB Local (a JVM): two at a time fit two cores.
    maxWorkers: 2,
  },
});
