/** The object without its undefined properties: what `exactOptionalPropertyTypes` options want. */
export function stripUndefined<T extends object>(value: T): { [K in keyof T]: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as {
    [K in keyof T]: Exclude<T[K], undefined>;
  };
}

/** A zod issue's location as a dotted key path, naming the unknown key itself for strict objects. */
export function issuePath(issue: {
  path: readonly PropertyKey[];
  code: string;
  keys?: readonly string[];
}): string {
  const base = issue.path.map(String);
  if (issue.code === 'unrecognized_keys' && issue.keys !== undefined && issue.keys.length > 0) {
    return issue.keys.map((key) => [...base, key].join('.')).join(', ');
  }
  return base.join('.');
}
