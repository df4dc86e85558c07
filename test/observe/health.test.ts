import { describe, expect, it } from 'vitest';
import { readiness } from '../../src/observe/health.js';

const MIN = 60_000;

describe('readiness', () => {
  it('with recentDeadLetterMs (the daemon): unready while an output has new dead letters, named with their count', () => {
    const tenants = [{ tenant: 'a', lastSuccessAt: 1, lagMs: 5 * MIN, maxLagMs: 22 * MIN }];
    const es = (newestMinutesAgo: number) => ({
      output: 'es',
      backlog: 0,
      deadLetters: 119,
      newestDeadLetterAt: 100 * MIN - newestMinutesAgo * MIN,
    });
    const rule = { maxBacklog: 1000, now: 100 * MIN, recentDeadLetterMs: 60 * MIN };
    expect(readiness({ tenants, outputs: [es(0)] }, rule)).toEqual({
      ready: false,
      reasons: ['output es: 119 dead letters, the newest under a minute ago (exotrace deadletter list)'],
    });
    expect(readiness({ tenants, outputs: [es(59)] }, rule).reasons).toEqual([
      'output es: 119 dead letters, the newest 59 min ago (exotrace deadletter list)',
    ]);
    // Older ones no longer make it unready (status still names every one it holds).
    expect(readiness({ tenants, outputs: [es(61)] }, rule).ready).toBe(true);
  });

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

  it('names an output whose last round failed, however recently, with its error code', () => {
    const output = (failingMinutes: number) => ({
      output: 'es',
      backlog: 10,
      deadLetters: 0,
      failingSince: 100 * MIN - failingMinutes * MIN,
      lastError: { code: 'output_auth', message: 'HTTP 401' },
    });
    const tenants = [{ tenant: 'a', lastSuccessAt: 1, lagMs: 5 * MIN, maxLagMs: 22 * MIN }];
    // A failing output is not keeping up, whoever asks and when (it used to take 15 minutes).
    expect(readiness({ tenants, outputs: [output(14)] }, { maxBacklog: 1000, now: 100 * MIN })).toEqual({
      ready: false,
      reasons: ['output es: failing for 14 min (output_auth)'],
    });
    expect(readiness({ tenants, outputs: [output(0)] }, { maxBacklog: 1000, now: 100 * MIN })).toEqual({
      ready: false,
      reasons: ['output es: failing for under a minute (output_auth)'],
    });
    const working = { output: 'es', backlog: 10, deadLetters: 0, lastSuccessAt: 100 * MIN };
    expect(readiness({ tenants, outputs: [working] }, { maxBacklog: 1000, now: 100 * MIN }).ready).toBe(true);
    expect(readiness({ tenants, outputs: [output(20)] }, { maxBacklog: 1000, now: 100 * MIN })).toEqual({
      ready: false,
      reasons: ['output es: failing for 20 min (output_auth)'],
    });
    expect(
      readiness({ tenants, outputs: [output(3)] }, { maxBacklog: 1000, now: 100 * MIN }).reasons,
    ).toEqual(['output es: failing for 3 min (output_auth)']);
  });
});
