/**
 * Where a migration is among its six phases (docs/ui.md §3.8), from the fields a list row carries:
 * which segment is active, its own monotone fraction when it has one (never an invented one),
 * the tone, and the words for the label and for screen readers.
 */
import { formatBytes, formatPercent } from '@/components/format';

export type PhaseStrategy = 'precopy' | 'mirror';

/** What the phase bar needs: the fields of a `migrations.list` row (agentPhase from `get`). */
export interface PhaseInput {
  state: string;
  strategy: PhaseStrategy;
  pass: number;
  bytesCopied: number;
  dirtyBytes: number;
  volumeSizeBytes: number;
  agentPhase?: string | null;
  /** Verification progress, when known (`get` has it): regions compared of regions to compare. */
  verify?: { done: number; total: number } | null;
}

export type SegmentStatus = 'done' | 'active' | 'todo' | 'hatched';
export type PhaseTone = 'progress' | 'paused' | 'failed' | 'ended' | 'done' | 'waiting';

export interface PhaseView {
  segments: { name: string; status: SegmentStatus }[];
  /** Index of the segment the migration is in; -1 before it started (planned, queued). */
  active: number;
  /** The active segment's own fraction in [0, 1], or null when it has none (drawn striped). */
  fraction: number | null;
  tone: PhaseTone;
  /** Short label: "Copy · 62%", "Converge · P2 · 4.10 GiB left". */
  label: string;
  /** "Phase 3 of 6, Converge, pass 2, 4.10 GiB left". */
  ariaLabel: string;
}

const NAMES: Record<PhaseStrategy, string[]> = {
  precopy: ['Prepare', 'Copy', 'Converge', 'Cut over', 'Verify', 'Commit'],
  mirror: ['Prepare', 'Resync', 'In sync', 'Detach', 'Verify', 'Commit'],
};

/** Segment the copy had reached, for states that do not name one themselves (paused, failed, ended). */
function reached(m: PhaseInput): number {
  switch (m.agentPhase) {
    case 'copying':
      return 1;
    case 'converging':
      return 2;
    case 'ready':
      return 3;
    case 'cutting-over':
    case 'rolling-back':
      return 3;
    case 'verifying':
      return 4;
    case 'verified':
    case 'committed':
      return 5;
    default:
      if (m.strategy === 'precopy' && m.pass > 0) return 2;
      return m.bytesCopied > 0 ? 1 : 0;
  }
}

function clamp01(x: number): number {
  return Math.min(1, Math.max(0, x));
}

/** The copy segment's fraction: pass-0 bytes copied, or (mirror) bytes in sync, of the volume. */
function copyFraction(m: PhaseInput): number {
  if (m.volumeSizeBytes <= 0) return 0;
  const copied = m.strategy === 'mirror' ? Math.min(m.bytesCopied, m.volumeSizeBytes - m.dirtyBytes) : m.bytesCopied;
  return clamp01(copied / m.volumeSizeBytes);
}

export function phaseOf(m: PhaseInput): PhaseView {
  const names = NAMES[m.strategy];
  let active: number;
  let tone: PhaseTone = 'progress';
  switch (m.state) {
    case 'planned':
    case 'queued':
      active = -1;
      tone = 'waiting';
      break;
    case 'preparing':
      active = 0;
      break;
    case 'copying':
    case 'syncing':
      active = m.strategy === 'precopy' && (m.pass > 0 || m.agentPhase === 'converging') ? 2 : 1;
      break;
    case 'ready':
      active = 3;
      tone = 'waiting';
      break;
    case 'cutting-over':
      active = 3;
      break;
    case 'verifying':
      active = 4;
      break;
    case 'verified':
      active = 5;
      tone = 'waiting';
      break;
    case 'committing':
      active = 5;
      break;
    case 'completed':
      active = 6;
      tone = 'done';
      break;
    case 'paused':
      active = reached(m);
      tone = 'paused';
      break;
    case 'failed':
      active = reached(m);
      tone = 'failed';
      break;
    default: // cancelled, rolled-back
      active = reached(m);
      tone = 'ended';
  }

  let fraction: number | null = null;
  if (active === 1) fraction = copyFraction(m);
  if (active === 4 && m.verify && m.verify.total > 0) fraction = clamp01(m.verify.done / m.verify.total);

  const segments = names.map((name, i) => ({
    name,
    status: (i < active ? 'done' : i === active ? 'active' : tone === 'failed' ? 'hatched' : 'todo') as SegmentStatus,
  }));

  const detail = detailOf(m, active, fraction);
  const stateWord =
    tone === 'paused' ? 'Paused' : tone === 'failed' ? 'Failed' : m.state === 'cancelled' ? 'Cancelled' : m.state === 'rolled-back' ? 'Rolled back' : null;
  const name = active >= 0 && active < names.length ? names[active] : null;
  let label: string;
  if (m.state === 'completed') label = 'Completed';
  else if (active < 0) label = m.state === 'planned' ? 'Planned' : 'Queued · waiting for a slot';
  else label = [stateWord, name, ...detail].filter(Boolean).join(' · ');

  const position = m.state === 'completed' ? 'All 6 phases done' : active < 0 ? 'Not started, 0 of 6 phases' : `Phase ${active + 1} of 6, ${name}`;
  const ariaLabel = [position, stateWord?.toLowerCase(), ...detail].filter(Boolean).join(', ');
  return { segments, active, fraction, tone, label, ariaLabel };
}

/** The words after the phase name: "62%", or "P2", "4.10 GiB left". */
function detailOf(m: PhaseInput, active: number, fraction: number | null): string[] {
  if (active === 1 && fraction !== null) {
    const part = m.strategy === 'mirror' ? Math.min(m.bytesCopied, m.volumeSizeBytes - m.dirtyBytes) : m.bytesCopied;
    return [formatPercent(Math.max(0, part), m.volumeSizeBytes)];
  }
  if (active === 2 && m.strategy === 'precopy') return [`P${m.pass}`, `${formatBytes(m.dirtyBytes)} left`];
  if (active === 4 && fraction !== null && m.verify) return [formatPercent(m.verify.done, m.verify.total)];
  if (m.state === 'ready') return [m.strategy === 'mirror' ? 'in sync, ready to detach' : 'ready to switch'];
  if (m.state === 'verified') return ['verified, awaiting commit'];
  return [];
}
