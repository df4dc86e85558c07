/**
 * Numeric command-line options, read one way by every command: a value that is not a whole number
 * in range is a usage error naming the option and the value, never a silent default (`--port abc`
 * was 0, `--messages-per-day abc` became 3000).
 */

/** A command-line value that cannot be used; the command prints it and exits 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Plain decimal digits only: `Number()` would also take '', ' 7 ', '0x10' and '1e3'. */
const DIGITS = /^\d+$/;

/** `value` as a whole number from `min` to `max`, or a UsageError naming `flag`. */
export function wholeNumberOption(flag: string, value: string, min: number, max: number): number {
  const n = DIGITS.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max)
    throw new UsageError(`${flag} must be a whole number from ${min} to ${max} (got '${value}')`);
  return n;
}

/** The same for an option that may be absent. */
export function optionalWholeNumber(
  flag: string,
  value: string | undefined,
  min: number,
  max: number,
): number | undefined {
  return value === undefined ? undefined : wholeNumberOption(flag, value, min, max);
}

/** Decimal notation only (`0.05`, `1`, `.5`). */
const DECIMAL = /^(\d+(\.\d*)?|\.\d+)$/;

/** `value` as a number from `min` to `max` (fractions allowed), or a UsageError naming `flag`. */
export function numberOption(flag: string, value: string, min: number, max: number): number {
  const n = DECIMAL.test(value) ? Number(value) : Number.NaN;
  if (!(n >= min && n <= max))
    throw new UsageError(`${flag} must be a number from ${min} to ${max} (got '${value}')`);
  return n;
}
