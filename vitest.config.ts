import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // CLI tests spawn the built binary; `npm test` builds first (pretest).
    testTimeout: 30_000,
    pool: 'forks',
  },
});
