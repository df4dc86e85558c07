/**
 * Durations as people write them in configs and flags: `500ms`, `30s`, `5m`, `24h`, `90d`, or a
 * bare number of milliseconds.
 */
const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Milliseconds, or undefined when the text is not a duration. */
export function parseDuration(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value : undefined;
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/i.exec(value);
  if (!match) return undefined;
  const amount = Number(match[1]);
  const unit = UNIT_MS[(match[2] ?? 'ms').toLowerCase()] ?? 1;
  return amount * unit;
}
