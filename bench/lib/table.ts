/** A number for a table cell: `-` when there is none. */
export const fmt = (value: number | null | undefined, digits = 0): string =>
  value !== null && value !== undefined && Number.isFinite(value) ? value.toFixed(digits) : '-';

/** A plain-text table, columns padded to their widest cell. */
export const table = (header: string[], rows: string[][]): string => {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join(' | ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('-|-'), ...rows.map(line)].join('\n');
};

/** "1 runner", "4 runners". */
export const plural = (count: number, noun: string): string => `${count} ${noun}${count === 1 ? '' : 's'}`;
