/**
 * A migration row's ETA in words (docs/ui.md §5.6): a rounded point when the engine has one, or the
 * named condition that stands in for it (waiting for a person, estimating, nothing to wait for).
 */
import { formatDuration } from '@/components/format';
import { windowState, type CutoverWindow } from '@/server/engine/window';

export interface EtaInput {
  state: string;
  etaSeconds: number | null;
  cutoverPolicy: Record<string, unknown>;
  agentUnreachableSince?: Date | null;
}

export interface EtaView {
  text: string;
  tone: 'normal' | 'attention' | 'warning' | 'muted';
  /** The basis, for the tooltip. */
  title?: string;
}

const MINUTE = 60;

/** "~12 min" from seconds: under 10 min to the minute, under an hour to 5 min, then to 15 min. */
export function formatEtaPoint(seconds: number): string {
  if (seconds < MINUTE) return '<1 min';
  const step = seconds < 10 * MINUTE ? MINUTE : seconds < 60 * MINUTE ? 5 * MINUTE : 15 * MINUTE;
  return `~${formatDuration(Math.max(step, Math.round(seconds / step) * step) * 1000)}`;
}

export function etaOf(row: EtaInput, now = 0): EtaView {
  const policy = row.cutoverPolicy as { mode?: string; commit?: string; window?: CutoverWindow };
  if (row.agentUnreachableSince) return { text: 'Unknown', tone: 'warning', title: 'no figures while the agent does not answer' };
  switch (row.state) {
    case 'ready':
      return policy.mode === 'auto' || policy.mode === undefined
        ? { text: 'Switching', tone: 'normal' }
        : policy.mode === 'window'
          ? windowEta(policy.window, now)
          : { text: 'Waiting for you', tone: 'attention', title: 'press "Cut over now" on the migration' };
    case 'verified':
      return policy.commit === 'manual' ? { text: 'Waiting for you', tone: 'attention', title: 'verified; commit it or roll back' } : { text: 'Committing', tone: 'normal' };
    case 'syncing':
    case 'copying':
      if (row.etaSeconds === null) return { text: 'Estimating…', tone: 'muted' };
      return { text: formatEtaPoint(row.etaSeconds), tone: 'normal', title: 'until the copy converges, from the agent’s current rates' };
    case 'queued':
    case 'preparing':
      return { text: 'Not started', tone: 'muted' };
    case 'cutting-over':
    case 'verifying':
    case 'committing':
      return { text: '<1 min', tone: 'normal' };
    default:
      return { text: '—', tone: 'muted' };
  }
}

/** "Window · opens 22:00" while a closed window holds the switch; "Switching" once it is open. */
function windowEta(window: CutoverWindow | undefined, now: number): EtaView {
  if (!window || now === 0) return { text: 'Window', tone: 'attention', title: 'cutover waits for the maintenance window' };
  const state = windowState({ mode: 'window', window }, new Date(now));
  if (state.open || !state.opensAt) return { text: 'Switching', tone: 'normal', title: 'inside the maintenance window' };
  const opens = state.opensAt.toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit', hour12: false });
  return { text: `Window · opens ${opens}`, tone: 'attention', title: `cutover waits for the window ${window.start}–${window.end} ${window.timeZone}` };
}
