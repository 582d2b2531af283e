/**
 * The one place that formats amounts and quantities: yuan as ¥1,234,567.89 and share counts as
 * 12,300, with thousands separators in both languages (the firm's statements write them this way).
 */
const yuan = new Intl.NumberFormat('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const whole = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const ratio = new Intl.NumberFormat('en-US', { maximumFractionDigits: 2 });

/** e.g. ¥50,000.00 (negative: -¥1,200.00). */
export function formatCny(n: number): string {
  return `${n < 0 ? '-' : ''}¥${yuan.format(Math.abs(n))}`;
}

/** A share count, e.g. 12,300. */
export function formatQty(n: number): string {
  return whole.format(n);
}

/** A percentage figure without the sign, e.g. 132.5. */
export function formatRatio(n: number): string {
  return ratio.format(n);
}
