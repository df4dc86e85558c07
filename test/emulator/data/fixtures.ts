/** Tenants and small helpers shared by the data generator's tests. */
import type { EmulatorTenant, TraceRow } from '../../../src/emulator/model.js';

export const MINUTE = 60_000;
export const HOUR = 3_600_000;
export const DAY = 86_400_000;
/** A Monday, midnight UTC. */
export const MONDAY = Date.UTC(2026, 2, 16);

export function tenant(overrides: Partial<EmulatorTenant> = {}): EmulatorTenant {
  return {
    name: 'contoso',
    tenantId: '6f1c2b7e-0d4a-4c55-9a3e-3b1f9d2c8a10',
    domain: 'contoso.onmicrosoft.com',
    acceptedDomains: ['contoso.com', 'eu.contoso.com'],
    messagesPerDay: 2000,
    seed: 1234,
    servicePrincipal: true,
    reportingReader: true,
    apps: [],
    ...overrides,
  };
}

export function take<T>(items: Iterable<T>, n: number): T[] {
  const out: T[] = [];
  if (n <= 0) return out;
  for (const item of items) {
    out.push(item);
    if (out.length >= n) break;
  }
  return out;
}

/** A row's data as plain values, details included (they are computed on read). */
export function snapshot(row: TraceRow): Record<string, unknown> {
  return { ...row, details: row.details };
}

export const key = (row: TraceRow): string => `${row.traceId}|${row.recipient}`;

export function finalStatus(row: TraceRow): string {
  return row.timeline[row.timeline.length - 1]?.status ?? 'none';
}

/**
 * The first few items failing `ok`: one assertion per property keeps
 * tests over ~100,000 rows fast, and a failure still shows the offending rows.
 */
export function failures<T>(items: readonly T[], ok: (item: T, index: number) => boolean): T[] {
  const bad: T[] = [];
  for (let i = 0; i < items.length && bad.length < 3; i++) {
    const item = items[i] as T;
    if (!ok(item, i)) bad.push(item);
  }
  return bad;
}
