/**
 * Counted nouns for what people read: "1 tenant", "2 tenants", "1,234 rows". One helper, so that
 * no message says "1 requests".
 */

/** The noun for `count`: the singular for exactly 1, else the plural (`noun` + s unless given). */
export function plural(count: number, noun: string, pluralNoun = `${noun}s`): string {
  return count === 1 ? noun : pluralNoun;
}

/** `count` (with thousands separators) and its noun: `counted(1, 'request')` is "1 request". */
export function counted(count: number, noun: string, pluralNoun?: string): string {
  return `${count.toLocaleString('en-US')} ${plural(count, noun, pluralNoun)}`;
}
