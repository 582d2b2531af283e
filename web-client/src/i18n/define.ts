/**
 * One area's part of the one dictionary: the zh-CN table is the source of keys, and the English table
 * must have exactly those keys — a missing translation is a compile error, not a blank in the page.
 * Placeholders are `{name}`, filled by `t(key, { name })`.
 */
export interface Messages<K extends string> {
  readonly zh: Readonly<Record<K, string>>;
  readonly en: Readonly<Record<K, string>>;
}

export function defineMessages<const Z extends Record<string, string>>(zh: Z, en: Record<keyof Z & string, string>): Messages<keyof Z & string> {
  return { zh, en };
}
