/**
 * The catch-up lines of a pass that is not progressing: a refused host or an exhausted budget
 * must not read as progress (the collector's own behaviour under retries is tested against the
 * emulator in test/pipeline/catch-up-progress.test.ts; this drives the progress directly).
 */
import { describe, expect, it } from 'vitest';
import { createCatchUpProgress, type BudgetView } from '../../src/observe/catch-up.js';
import type { Logger } from '../../src/observe/log.js';

interface Line {
  message: string;
  fields: Record<string, unknown>;
}

function harness(budget: BudgetView = { perWindow: 90, free: 90, pausedMs: 0 }) {
  const lines: Line[] = [];
  const record = (message: string, fields: Record<string, unknown> = {}): void => {
    lines.push({ message, fields });
  };
  const log: Logger = { debug: record, info: record, warn: record, error: record };
  let clock = 0;
  const view = { ...budget };
  const progress = createCatchUpProgress({ log, everyMs: 30_000, now: () => clock, budgetOf: () => view });
  return {
    lines,
    progress,
    budget: view,
    advance(ms: number) {
      clock += ms;
    },
  };
}

const WINDOW = { from: 0, to: 86_400_000 };

describe('catch-up lines of a pass that is not progressing', () => {
  it('name the last retry cause until a page comes', () => {
    const h = harness();
    h.progress.passStart('contoso', 'fast');
    h.progress.windowStart('contoso', 'fast', WINDOW, 0, 1);
    h.advance(31_000);
    h.progress.retry('contoso', 'the API host 127.0.0.1:1 refused the connection (ECONNREFUSED)');
    expect(h.lines.at(-1)?.message).toBe('tenant catching up');
    expect(h.lines.at(-1)?.fields['retrying']).toBe(
      'the API host 127.0.0.1:1 refused the connection (ECONNREFUSED)',
    );
    h.advance(31_000);
    h.progress.page('contoso', 'fast', WINDOW, 5000, 1000);
    expect(h.lines.at(-1)?.fields['retrying']).toBeUndefined();
    expect(h.lines.at(-1)?.fields['rows']).toBe(5000);
  });

  it('say when the tenant waits for its request budget', () => {
    const h = harness({ perWindow: 90, free: 0, pausedMs: 120_000 });
    h.progress.passStart('contoso', 'fast');
    h.advance(31_000);
    h.progress.tick();
    expect(h.lines.at(-1)?.fields['waitingForBudget']).toBe(true);
    h.budget.free = 10;
    h.advance(31_000);
    h.progress.tick();
    expect(h.lines.at(-1)?.fields['waitingForBudget']).toBeUndefined();
  });
});
