import { describe, expect, it } from 'vitest';
import { normalize } from '../../src/normalize/index.js';
import { flatten } from '../helpers/ecs.js';
import { SEED_FIXTURES, readFixture, type SeedFixture } from '../helpers/fixtures.js';

describe.each(SEED_FIXTURES)('seed sample %s', (name) => {
  const fixture = readFixture<SeedFixture>(name);
  const envelope = JSON.stringify(fixture.input);

  it('the seed profile reproduces the documented event exactly, message included', () => {
    const { events, rejects } = normalize(envelope, { profile: 'seed' });
    expect(rejects).toEqual([]);
    expect(events).toHaveLength(1);
    expect(events[0]).toStrictEqual(fixture.expected);
    // Same keys in the same order: the serialized event is the documented text.
    expect(JSON.stringify(events[0])).toBe(JSON.stringify(fixture.expected));
  });

  it('the raw row without its envelope gives the same event', () => {
    const { events } = normalize(fixture.input.message, { profile: 'seed' });
    expect(events[0]).toStrictEqual(fixture.expected);
  });

  it('the full profile keeps every seed field unchanged', () => {
    const { events } = normalize(envelope, { profile: 'full', acceptedDomains: ['example.corp', 'abc.com'] });
    const full = flatten(events[0]);
    for (const [field, value] of Object.entries(flatten(fixture.expected))) {
      expect(full[field], field).toStrictEqual(value);
    }
    expect(Object.keys(full).length).toBeGreaterThan(Object.keys(flatten(fixture.expected)).length);
  });

  it('the full profile is the default', () => {
    const { events } = normalize(envelope);
    expect(events[0]?.ecs?.version).toBeDefined();
    expect(events[0]?.event.kind).toBe('event');
  });
});
