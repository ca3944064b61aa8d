import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['protocol/src/**/*.test.ts', 'agent/src/**/*.test.ts', 'conductor-client/src/**/*.test.ts', 'image-build/src/**/*.test.ts'],
          exclude: ['**/*.fuzz.test.ts', '**/node_modules/**'],
        },
      },
      {
        test: {
          // Property-based attacks on every parser of outside input and on the
          // agent's HTTP API (fast-check). `npm run fuzz` scales them up.
          name: 'fuzz',
          include: ['protocol/src/**/*.fuzz.test.ts', 'agent/src/**/*.fuzz.test.ts', 'conductor-client/src/**/*.fuzz.test.ts', 'test/fuzz/**/*.fuzz.test.ts'],
          globalSetup: ['test/fuzz/tally.ts'],
          testTimeout: 600_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts', 'test/device/**/*.test.ts', 'test/cli/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          pool: 'forks',
          poolOptions: { forks: { singleFork: true } },
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          // QEMU under TCG: a boot is ~13 s, a whole scenario about a minute.
          testTimeout: 600_000,
          hookTimeout: 120_000,
          pool: 'forks',
          poolOptions: { forks: { singleFork: true } },
        },
      },
    ],
  },
});
