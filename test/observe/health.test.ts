import { describe, expect, it } from 'vitest';
import { readiness } from '../../src/observe/health.js';

const MIN = 60_000;

describe('readiness', () => {
  it('is ready when every tenant completed a cycle within its lag bound and no output is at the bound', () => {
    expect(
      readiness(
        {
          tenants: [{ tenant: 'a', lastSuccessAt: 1, lagMs: 5 * MIN, maxLagMs: 22 * MIN }],
          outputs: [{ output: 'file', backlog: 10, deadLetters: 3 }],
        },
        { maxBacklog: 1000 },
      ),
    ).toEqual({ ready: true, reasons: [] });
  });

  it('names each reason: no cycle yet, a failed cycle, a stalled tenant, an output at the bound', () => {
    const result = readiness(
      {
        tenants: [
          { tenant: 'new', maxLagMs: 22 * MIN },
          {
            tenant: 'broken',
            lastSuccessAt: 1,
            lastError: { code: 'auth_failed' },
            lagMs: 5 * MIN,
            maxLagMs: 22 * MIN,
          },
          { tenant: 'stalled', lastSuccessAt: 1, lagMs: 90 * MIN, maxLagMs: 22 * MIN },
        ],
        outputs: [{ output: 'es', backlog: 1000, deadLetters: 0 }],
      },
      { maxBacklog: 1000 },
    );
    expect(result.ready).toBe(false);
    expect(result.reasons).toEqual([
      'tenant new: no cycle completed yet',
      'tenant broken: last cycle failed (auth_failed)',
      'tenant stalled: 90 min behind (bound 22 min)',
      'output es: 1000 events waiting (bound 1000)',
    ]);
  });
});
