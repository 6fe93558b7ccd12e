/**
 * The pass ladder (docs/ui.md §4.2.3): one bar per pass on panel A's Y scale, the bytes that pass had
 * to copy, against the dashed switch threshold: a staircase that must step down under the line.
 * Done passes solid; the running one solid up to what is left; predicted ones hollow and dashed;
 * a pass that grew amber with ▲; the switch green. Plain SVG: bars on a log axis need a floor.
 */
import { formatBytes } from '@/components/format';

export interface LadderBar {
  label: string;
  bytes: number;
  /** The solid part: all of a done pass, what is left of the running one, none of a predicted one. */
  filledBytes: number;
  kind: 'done' | 'running' | 'grew' | 'predicted' | 'switch';
  title: string;
}

const WIDTH = 180;
const TOP = 16;
const BOTTOM = 22;

export function PassLadder({ bars, threshold, domain, log, height }: { bars: readonly LadderBar[]; threshold: number | null; domain: [number, number]; log: boolean; height: number }) {
  const plot = height - TOP - BOTTOM;
  const y = (bytes: number) => {
    const [low, high] = domain;
    const v = Math.min(high, Math.max(low, bytes));
    const share = log ? (Math.log(v) - Math.log(low)) / (Math.log(high) - Math.log(low)) : (v - low) / (high - low);
    return TOP + plot * (1 - share);
  };
  const shown = bars.slice(-10);
  const slot = (WIDTH - 8) / Math.max(6, shown.length);
  const barWidth = Math.max(6, slot * 0.6);
  const base = TOP + plot;
  return (
    <figure className="w-[180px] shrink-0" aria-label="Bytes each pass had to copy">
      <svg width={WIDTH} height={height} role="img" aria-label={shown.map((b) => `${b.label === 'switch' ? 'switch' : `pass ${b.label}`}: ${formatBytes(b.bytes)}`).join(', ')}>
        <text x={4} y={10} fontSize={10} fill="var(--color-muted-foreground)">
          Passes{log ? ' (log)' : ''}
        </text>
        {shown.map((bar, i) => {
          const x = 4 + i * slot + (slot - barWidth) / 2;
          const top = y(bar.bytes);
          const filledTop = y(bar.filledBytes);
          const colour = bar.kind === 'grew' ? '#d97706' : bar.kind === 'switch' ? '#059669' : 'var(--color-left)';
          return (
            <g key={`${bar.label}-${i}`}>
              <title>{bar.title}</title>
              {bar.kind === 'predicted' || bar.kind === 'switch' || bar.kind === 'running' ? (
                <rect x={x} y={top} width={barWidth} height={Math.max(1, base - top)} fill="none" stroke={colour} strokeDasharray={bar.kind === 'predicted' ? '3 2' : undefined} strokeWidth={1.2} />
              ) : null}
              {bar.kind !== 'predicted' && bar.kind !== 'switch' && bar.filledBytes > 0 ? (
                <rect x={x} y={filledTop} width={barWidth} height={Math.max(1, base - filledTop)} fill={colour} fillOpacity={0.85} />
              ) : null}
              {bar.kind === 'switch' ? <rect x={x} y={top} width={barWidth} height={Math.max(1, base - top)} fill={colour} fillOpacity={0.35} /> : null}
              {bar.kind === 'grew' ? (
                <text x={x + barWidth / 2} y={top - 3} fontSize={9} textAnchor="middle" fill={colour}>
                  ▲
                </text>
              ) : null}
              <text x={x + barWidth / 2} y={height - 8} fontSize={9} textAnchor="middle" fill="var(--color-muted-foreground)">
                {bar.label === 'switch' ? 'sw' : bar.label}
              </text>
            </g>
          );
        })}
        {threshold !== null ? <line x1={0} x2={WIDTH} y1={y(threshold)} y2={y(threshold)} stroke="var(--color-limit)" strokeDasharray="6 4" strokeWidth={1.2} /> : null}
        <line x1={0} x2={WIDTH} y1={base} y2={base} stroke="var(--color-border)" />
      </svg>
      <figcaption className="sr-only">Each bar is what a pass had to copy; predicted passes are hollow; the dashed line is the switch threshold.</figcaption>
    </figure>
  );
}
