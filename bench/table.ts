/** A plain text table for benchmark output: first column left-aligned, the others as asked. */
export function printTable(
  cells: readonly (readonly string[])[],
  alignRight: readonly boolean[] = cells[0]?.map((_, c) => c > 0) ?? [],
): void {
  const widths = (cells[0] ?? []).map((_, c) => Math.max(...cells.map((row) => (row[c] ?? '').length)));
  const render = (row: readonly string[]): string =>
    row
      .map((cell, c) => {
        const width = widths[c] ?? 0;
        return alignRight[c] === true ? cell.padStart(width) : cell.padEnd(width);
      })
      .join('  ')
      .trimEnd();
  const [header, ...body] = cells;
  if (header === undefined) return;
  console.log(render(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of body) console.log(render(row));
}
