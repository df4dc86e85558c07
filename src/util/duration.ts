/**
 * Durations as people write them in configs and flags (`500ms`, `30s`, `5m`, `24h`, `90d`, or a
 * bare number of milliseconds), and as exotrace prints them.
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

/**
 * How a duration is printed. The texts must stay apart because they answer different questions:
 * - `eta` (default; progress lines, ETAs): `45s`, `6m 10s`, `2h 05m`, `3d 04h`, rounded up (an ETA
 *   never says 0s early), two units with the second zero-padded so a redrawn bar does not jitter;
 *   `…` when unknown;
 * - `config` (`config show`): the exact value as a config would spell it, the largest unit that
 *   divides it (`24h`, `90d`, `1500ms`), so that it reads back through `parseDuration` unchanged;
 * - `lag` (`status`'s table): `40s`, `5m`, `2h 5m`, `3d 4h`, rounded, whole minutes below an hour
 *   and hours up to two days (a lag of "1d 1h" reads worse than "25h"): a glance, not a count.
 * An unknown or infinite duration is `…` as an ETA, `-` in the other two styles.
 */
export type DurationStyle = 'eta' | 'config' | 'lag';

export function formatDuration(ms: number | undefined, style: DurationStyle = 'eta'): string {
  // Unknown: an ETA still being estimated (`…`); for a lag or a setting, status's dash (it printed
  // "undefined" or "NaN").
  if (ms === undefined || !Number.isFinite(ms)) return style === 'eta' ? '…' : '-';
  if (style === 'config') return exact(ms);
  if (style === 'lag') return lag(ms);
  return eta(ms);
}

function eta(ms: number): string {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const days = Math.floor(total / 86_400);
  const hours = Math.floor((total % 86_400) / 3_600);
  const minutes = Math.floor((total % 3_600) / 60);
  const seconds = total % 60;
  const pad = (n: number): string => String(n).padStart(2, '0');
  if (days > 0) return `${days}d ${pad(hours)}h`;
  if (hours > 0) return `${hours}h ${pad(minutes)}m`;
  if (minutes > 0) return `${minutes}m ${pad(seconds)}s`;
  return `${seconds}s`;
}

function exact(ms: number): string {
  // Days only from two on: `24h` reads better than `1d`.
  if (ms >= 2 * 86_400_000 && ms % 86_400_000 === 0) return `${ms / 86_400_000}d`;
  for (const [unit, size] of [
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ] as const) {
    if (ms !== 0 && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

function lag(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return m % 60 === 0 ? `${h}h` : `${h}h ${m % 60}m`;
  const d = Math.floor(h / 24);
  return h % 24 === 0 ? `${d}d` : `${d}d ${h % 24}h`;
}
