import { defaultServerConditions } from 'vite';
import { defineConfig } from 'vitest/config';

// The @ingot/* packages' `exports` lead to their TypeScript sources under this
// condition, so the tests run the sources with no build step (dist/ is what a
// consumer of the packed packages gets). Tests run in vite's server (ssr)
// environment, whose conditions these are; every project resolves the same way.
const sources = { ssr: { resolve: { conditions: ['@ingot/source', ...defaultServerConditions] } } };

export default defineConfig({
  test: {
    projects: [
      {
        ...sources,
        test: {
          name: 'unit',
          include: ['protocol/src/**/*.test.ts', 'agent/src/**/*.test.ts', 'conductor-client/src/**/*.test.ts', 'image-build/src/**/*.test.ts'],
          exclude: ['**/*.fuzz.test.ts', '**/node_modules/**'],
        },
      },
      {
        ...sources,
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
        ...sources,
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
        ...sources,
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
