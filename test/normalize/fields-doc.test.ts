/**
 * The field reference cannot drift: docs/fields.md is the rendering of the code's table, every
 * listed field is valid ECS with the listed type, and the normalizer emits exactly the listed
 * fields, per profile and per kind of event.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { EcsFlat, EcsVersion } from '@elastic/ecs';
import { describe, expect, it } from 'vitest';
import {
  createNormalizer,
  ECS_VERSION,
  FIELDS,
  PROFILES,
  renderFieldsDoc,
  type Profile,
} from '../../src/normalize/index.js';
import { flatten } from '../helpers/ecs.js';
import { REPO_ROOT } from '../helpers/fixtures.js';

const FLAT = EcsFlat as unknown as Record<string, { type: string; normalize: string[] } | undefined>;

/** Records that between them exercise every mapping: every dialect, rows and details, all values set. */
const CORPUS = [
  {
    Organization: 'contoso.onmicrosoft.com',
    MessageId: '<a@b>',
    Received: '/Date(1658751973240)/',
    SenderAddress: 'a@contoso.com',
    RecipientAddress: 'b@fabrikam.com',
    Subject: 's',
    Status: 'Delivered',
    ToIP: '203.0.113.1',
    FromIP: '10.0.0.1',
    Size: 1,
    MessageTraceId: 't1',
  },
  {
    id: 't2',
    senderAddress: 'a@fabrikam.com',
    recipientAddress: 'b@contoso.com',
    messageId: '<c@d>',
    receivedDateTime: '2026-01-21T14:12:34Z',
    subject: 's',
    size: 2,
    fromIP: '2001:db8::1',
    toIP: '',
    status: 'failed',
  },
  {
    id: 't2',
    messageId: '<c@d>',
    dateTime: '2026-01-21T14:12:35Z',
    event: 'Receive',
    action: 'a',
    description: 'd',
    data: '<root/>',
  },
  {
    MessageTraceId: 't1',
    Organization: 'o',
    RecipientAddress: 'b@fabrikam.com',
    SenderAddress: 'a@contoso.com',
    MessageId: '<a@b>',
    Date: '2022-07-25T12:26:13Z',
    Event: 'Deliver',
    Action: 'x',
    Detail: 'y',
    Data: 'z',
  },
];

function emitted(profile: Profile): { rows: Set<string>; details: Set<string> } {
  const normalizer = createNormalizer({
    profile,
    organization: 'contoso.onmicrosoft.com',
    acceptedDomains: ['contoso.com'],
    tenant: { name: 'contoso', id: '11111111-2222-3333-4444-555555555555' },
  });
  const rows = new Set<string>();
  const details = new Set<string>();
  for (const record of CORPUS) {
    const { events, rejects } = normalizer.normalizeValue(record);
    expect(rejects).toEqual([]);
    const into = 'dateTime' in record || 'Date' in record ? details : rows;
    for (const event of events) for (const name of Object.keys(flatten(event))) into.add(name);
  }
  return { rows, details };
}

const listed = (profile: Profile, kind: 'rows' | 'details'): string[] =>
  FIELDS.filter(
    (f) => (profile === 'full' || f.profile === 'seed') && (f.events === kind || f.events === 'both'),
  )
    .map((f) => f.name)
    .sort();

describe('field reference', () => {
  it('docs/fields.md is the rendering of the code (run `npm run docs:fields` after changing fields.ts)', () => {
    const doc = readFileSync(path.join(REPO_ROOT, 'docs/fields.md'), 'utf8');
    expect(doc).toBe(renderFieldsDoc(ECS_VERSION));
  });

  it('the ECS version we claim is the one we validate against', () => {
    expect(ECS_VERSION).toBe(EcsVersion);
  });

  it('names each field once', () => {
    expect(new Set(FIELDS.map((f) => f.name)).size).toBe(FIELDS.length);
  });

  it.each(FIELDS.filter((f) => !f.name.startsWith('office365.')))(
    '$name has the listed ECS type and arrayness',
    (field) => {
      const def = FLAT[field.name];
      expect(def, `${field.name} is not in ECS ${EcsVersion}`).toBeDefined();
      expect(def?.type).toBe(field.type);
      expect(def?.normalize.includes('array') ?? false).toBe(field.array === true);
    },
  );

  describe.each(PROFILES)('profile %s', (profile) => {
    const seen = emitted(profile);
    it('rows carry exactly the listed row fields', () => {
      expect([...seen.rows].sort()).toEqual(listed(profile, 'rows'));
    });
    it('detail events carry exactly the listed detail fields', () => {
      expect([...seen.details].sort()).toEqual(listed(profile, 'details'));
    });
  });
});
