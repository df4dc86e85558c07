/**
 * Message trace statuses. Every API spells them differently (Reporting Web Service and beta:
 * `GettingStatus`; Graph v1.0: `gettingStatus`), so they are matched case-insensitively and
 * rewritten to the Reporting Web Service spelling, which is what the seed's `event.action` shows.
 */

const CANONICAL_STATUSES = [
  'None',
  'GettingStatus',
  'Pending',
  'Delivered',
  'Expanded',
  'Failed',
  'Quarantined',
  'FilteredAsSpam',
  'Recalled',
] as const;

export type KnownStatus = (typeof CANONICAL_STATUSES)[number];

const BY_LOWER_CASE = new Map<string, KnownStatus>(
  CANONICAL_STATUSES.map((status) => [status.toLowerCase(), status]),
);
// The spellings the APIs actually send (PascalCase, Graph v1.0 camelCase), found without
// lower-casing first: this runs for every row.
const AS_SENT = new Map<string, KnownStatus>(
  CANONICAL_STATUSES.flatMap((status) => [
    [status, status],
    [status.charAt(0).toLowerCase() + status.slice(1), status],
  ]),
);

/**
 * The canonical spelling of a status; a value we do not know (Graph's `unknownFutureValue`, or
 * anything Microsoft adds later) is kept exactly as given: never dropped, never an error.
 */
export function canonicalStatus(raw: string): string {
  return AS_SENT.get(raw) ?? BY_LOWER_CASE.get(raw.toLowerCase()) ?? raw;
}

/** Whether a status is one Microsoft documents (metrics label others `other`, to stay bounded). */
export function isKnownStatus(status: string): status is KnownStatus {
  return AS_SENT.get(status) === status;
}

export type EventOutcome = 'success' | 'failure' | 'unknown';

/** `event.outcome`: delivery succeeded, was refused, or is not (yet) known. */
export function outcomeOf(status: string | undefined): EventOutcome {
  switch (status) {
    case 'Delivered':
      return 'success';
    case 'Failed':
    case 'FilteredAsSpam':
    case 'Quarantined':
      return 'failure';
    default:
      return 'unknown';
  }
}
