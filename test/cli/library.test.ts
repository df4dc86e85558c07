import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/fixtures.js';

describe("the library entry point: import { normalize } from 'exotrace'", () => {
  it('resolves through the package exports and normalizes', () => {
    const script = `
      import { normalize, createNormalizer, FIELDS, ECS_VERSION } from 'exotrace';
      const row = { id: 'abc', receivedDateTime: '2026-01-01T00:00:00Z', status: 'delivered', recipientAddress: 'a@b.c' };
      const { events, rejects } = normalize(JSON.stringify(row), { profile: 'seed' });
      console.log(JSON.stringify({ action: events[0].event.action, rejects: rejects.length,
        fn: typeof createNormalizer, fields: FIELDS.length > 0, ecs: ECS_VERSION }));`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
    });
    expect(JSON.parse(out)).toEqual({
      action: 'Delivered',
      rejects: 0,
      fn: 'function',
      fields: true,
      ecs: '9.4.0',
    });
  });
});
