import { describe, expect, it } from 'vitest';
import { counted, plural } from '../../src/util/plural.js';

describe('counted nouns', () => {
  it('singular for exactly one, plural otherwise, with thousands separators', () => {
    expect(counted(1, 'tenant')).toBe('1 tenant');
    expect(counted(0, 'tenant')).toBe('0 tenants');
    expect(counted(2, 'output')).toBe('2 outputs');
    expect(counted(1234, 'request')).toBe('1,234 requests');
    expect(counted(1, 'dead letter')).toBe('1 dead letter');
    expect(counted(3, 'entry', 'entries')).toBe('3 entries');
    expect(plural(1, 'event')).toBe('event');
    expect(plural(5, 'event')).toBe('events');
  });
});
