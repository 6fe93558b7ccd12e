/**
 * The status sentence of the migration detail page (docs/ui.md §3.9.3): one or two plain sentences
 * from the state and the model, the first thing a newcomer reads and what a screen reader hears
 * for the chart.
 */
import { formatAbsolute, formatBytes, formatDuration, formatEta, formatLatency, formatPercent, formatRate } from '@/components/format';
import { describeWindow, windowState, type CutoverWindow } from '@/server/engine/window';
import { phaseOf, type PhaseStrategy } from './phase';

export interface SentenceInput {
  state: string;
  strategy: PhaseStrategy;
  agentPhase: string | null;
  pass: number;
  bytesCopied: number;
  dirtyBytes: number;
  volumeSizeBytes: number;
  hostname: string;
  sourceArrayName: string | null;
  targetArrayName: string;
  error: string | null;
  agentUnreachableSince: Date | null;
  cutoverPolicy: Record<string, unknown>;
  cutoverPauseMs: number | null;
  pauseBudgetMs: number;
  /** While queued, why the scheduler has not started it (from `migrations.get`). */
  queueReason?: string | null;
  prediction: {
    condition: string;
    copyRateBytesPerS: number | null;
    writeRateBytesPerS: number | null;
    shrinkFactor: number | null;
    pass: number | null;
    totalPassesEstimate: number | null;
    switchPauseMs: number | null;
    pauseIfSwitchedNowMs: number | null;
    etaS: { p10: number; p50: number; p90: number | null } | null;
  };
}

/** The sentence; `leftBytes` is the newest sample's (live), falling back to the row's dirty bytes. */
export function statusSentence(m: SentenceInput, leftBytes: number | null, now: number): string {
  const left = leftBytes ?? m.dirtyBytes;
  const p = m.prediction;
  const manual = m.cutoverPolicy.mode === 'manual';
  const waitingForWindow = windowWait(m.cutoverPolicy, now);
  if (m.agentUnreachableSince) {
    const since = m.agentUnreachableSince.getTime();
    return `No data from the agent on ${m.hostname} since ${formatAbsolute(since, now)} (${formatDuration(now - since)} ago). The copy normally continues on the host; figures resume when the agent reconnects.`;
  }
  switch (m.state) {
    case 'failed': {
      const phase = phaseOf(m).segments[Math.max(0, phaseOf(m).active)]?.name ?? 'the migration';
      return `Failed during ${phase}: ${m.error ?? 'no reason given'}. The source is intact and still in use.`;
    }
    case 'cancelled':
      return `Cancelled. The target LUN on ${m.targetArrayName} is removed; the volume keeps running on ${m.sourceArrayName ?? 'its source'}.`;
    case 'rolled-back':
      return `Rolled back. The volume runs on its source LUN on ${m.sourceArrayName ?? 'the source array'} again.`;
    case 'completed':
      return `Completed. The volume runs on ${m.targetArrayName}; the source LUN was released.`;
    case 'planned':
    case 'queued':
      return m.queueReason
        ? `Queued: ${m.queueReason}. The copy starts when the scheduler admits it.`
        : 'Queued: waiting for a slot. The copy starts when the engine admits it.';
    case 'preparing':
      return `Preparing: creating the target LUN on ${m.targetArrayName} and mapping it to ${m.hostname}.`;
    case 'paused':
      return `Paused in pass ${m.pass} with ${formatBytes(left)} left to copy. Resume continues from where it stopped; the source stays in use.`;
    case 'cutting-over':
      return `Switching: writes are paused while the last ${formatBytes(left)} are copied (budget ${formatLatency(m.pauseBudgetMs)}).`;
    case 'verifying':
      return 'Comparing source and target checksums.';
    case 'verified':
      return `Verified${m.cutoverPauseMs !== null ? ` after a ${formatLatency(m.cutoverPauseMs)} pause` : ''}. The source LUN is kept until you commit, so you can still roll back.`;
    case 'committing':
      return `Committing: releasing the source LUN on ${m.sourceArrayName ?? 'the source array'}.`;
  }
  if (m.strategy === 'mirror') {
    if (left <= 0 || m.state === 'ready') {
      const wait = m.state !== 'ready' ? '' : manual ? ' Waiting for you: press Cut over now.' : waitingForWindow ? ` ${waitingForWindow[0]!.toUpperCase()}${waitingForWindow.slice(1)}` : '';
      return `Both copies are identical. Detaching the old LUN needs no pause.${wait}`;
    }
    const synced = Math.max(0, m.volumeSizeBytes - left);
    return `The new LUN is attached as a second copy. Every new write goes to both; ${formatBytes(left)} of older data is still being copied across (${formatPercent(synced, m.volumeSizeBytes)} in sync).`;
  }
  const pause = p.switchPauseMs ?? p.pauseIfSwitchedNowMs;
  if (m.state === 'ready') {
    const fits = `Ready to switch. What is left (${formatBytes(left)}) fits a ~${pause === null ? '?' : formatLatency(pause)} pause.`;
    if (waitingForWindow) return `Ready to switch, but ${waitingForWindow} Copying continues until then so the switch stays short.`;
    return manual ? `${fits} Waiting for you: press Cut over now.` : fits;
  }
  const pass = p.pass ?? m.pass;
  if (pass === 0) {
    return `Copying the whole volume once (${formatPercent(m.bytesCopied, m.volumeSizeBytes)} of ${formatBytes(m.volumeSizeBytes)}). Writes made meanwhile are tracked and copied again in later passes.`;
  }
  if (p.condition === 'not-converging' && p.copyRateBytesPerS !== null && p.writeRateBytesPerS !== null) {
    return `Not converging: the application writes ${formatRate(p.writeRateBytesPerS)}, the copy runs at ${formatRate(p.copyRateBytesPerS)}, so passes stop shrinking. Policy: switch to mirror after 3 passes that do not shrink. You can throttle the application, or stop and keep the source.`;
  }
  if (p.condition === 'stalled') return `Pass ${pass}: nothing was copied in the last minute; ${formatBytes(left)} still to copy before the switch.`;
  const of = p.totalPassesEstimate !== null && p.totalPassesEstimate > pass ? `Pass ${pass} of about ${p.totalPassesEstimate}.` : `Pass ${pass}.`;
  const shrink = p.shrinkFactor !== null ? ` each pass is ~${p.shrinkFactor >= 10 ? Math.round(p.shrinkFactor) : p.shrinkFactor.toFixed(1)}× smaller than the last.` : ' application writes are idle, so the next pass should be the last.';
  const head = `${of} ${formatBytes(left)} still to copy before the switch;${shrink}`;
  if (p.condition === 'converging' && p.etaS) {
    return `${head} The switch should happen in ${formatEta(p.etaS)}, pausing writes for ~${p.switchPauseMs === null ? '?' : formatLatency(p.switchPauseMs)} (budget ${formatLatency(m.pauseBudgetMs)}).`;
  }
  return `${head} Estimating when it will switch…`;
}

/** "cutovers are allowed only in the window 22:00–06:00 UTC (opens 22:00)." while a window policy holds the switch. */
function windowWait(policy: Record<string, unknown>, now: number): string | null {
  const window = policy.window as CutoverWindow | undefined;
  if (policy.mode !== 'window' || !window || now === 0) return null;
  const state = windowState({ mode: 'window', window }, new Date(now));
  if (state.open || !state.opensAt) return null;
  return `cutovers are allowed only in the window ${describeWindow(window)} (opens ${formatAbsolute(state.opensAt.getTime(), now)}).`;
}
