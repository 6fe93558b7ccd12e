/** Renders rows of cells as an aligned text table or a Markdown table. */
import type { Spread } from './stats';

export type Cells = readonly string[];

export function textTable(headers: Cells, rows: readonly Cells[]): string {
  const widths = headers.map((header, column) => Math.max(header.length, ...rows.map((row) => (row[column] ?? '').length)));
  const line = (cells: Cells) => cells.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join('  ').trimEnd();
  return [line(headers), widths.map((width) => '─'.repeat(width)).join('  '), ...rows.map(line)].join('\n');
}

export function markdownTable(headers: Cells, rows: readonly Cells[]): string {
  const line = (cells: Cells) => `| ${cells.map((cell) => cell.replaceAll('|', '\\|')).join(' | ')} |`;
  return [line(headers), line(headers.map(() => '---')), ...rows.map(line)].join('\n');
}

/** "1.23 [1.10–1.50]", or "—" when there is no figure. */
export function formatSpread(value: Spread | null, digits: number): string {
  if (!value) return '—';
  if (value.min === value.max) return value.median.toFixed(digits);
  return `${value.median.toFixed(digits)} [${value.min.toFixed(digits)}–${value.max.toFixed(digits)}]`;
}

export function formatRatio(value: number | null): string {
  return value === null ? '—' : `${value.toFixed(2)}×`;
}
