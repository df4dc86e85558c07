/**
 * Sets of time ranges, as sorted disjoint lists of `[from, to]` (epoch ms, inclusive at both
 * ends). What the state records as collected, and what a backfill still has to collect, are such
 * sets. Ranges that overlap or touch (one ends where the next starts: windows share their boundary
 * second) are one; ranges a millisecond apart are not, since rows may lie between them.
 */

export interface Range {
  readonly from: number;
  readonly to: number;
}

/** `ranges` with `add` merged in: sorted, disjoint, touching ranges joined. */
export function addRange(ranges: readonly Range[], add: Range): Range[] {
  const out: Range[] = [];
  let merged = { from: add.from, to: add.to };
  for (const r of ranges) {
    if (r.to < merged.from || r.from > merged.to) out.push(r);
    else merged = { from: Math.min(r.from, merged.from), to: Math.max(r.to, merged.to) };
  }
  out.push(merged);
  return out.sort((a, b) => a.from - b.from);
}

/** The parts of `ranges` inside `[from, to]`. */
export function clipRanges(ranges: readonly Range[], from: number, to: number): Range[] {
  const out: Range[] = [];
  for (const r of ranges) {
    const clipped = { from: Math.max(r.from, from), to: Math.min(r.to, to) };
    if (clipped.from < clipped.to) out.push(clipped);
  }
  return out;
}

/**
 * `[from, to]` minus `ranges` (sorted, disjoint): the gaps, oldest first. A gap keeps the boundary
 * instants it shares with the ranges around it (bounds are inclusive: a row on the boundary second
 * is read again and the seen-set drops it, rather than falling between two reads).
 */
export function subtractRanges(from: number, to: number, ranges: readonly Range[]): Range[] {
  const gaps: Range[] = [];
  let start = from;
  for (const r of ranges) {
    if (r.to <= start || r.from >= to) continue;
    if (r.from > start) gaps.push({ from: start, to: r.from });
    start = Math.max(start, r.to);
  }
  if (start < to) gaps.push({ from: start, to });
  return gaps;
}
