import { defineConfig } from 'vitest/config';

// Two projects: unit tests need neither PostgreSQL nor the built CLI (`npx vitest run --project unit`);
// integration and e2e tests share the global setup that builds the CLI and starts PostgreSQL.
export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Two files at a time on two cores (vitest's default is one fewer than the cores): most e2e
    // time is spent waiting on the CLI's processes, PostgreSQL and the fake servers.
    maxWorkers: 2,
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts', 'test/e2e/**/*.test.ts'],
          globalSetup: ['test/global-setup.ts'],
          // Tests that start the CLI several times (about 1 s each when the machine is quiet) outlast 30 s when it is shared.
          testTimeout: 60_000,
        },
      },
    ],
  },
});
